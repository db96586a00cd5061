"""The one backoff both workers retry with: webhook receipts (capped) and sends (with jitter)."""

from conversations.background import backoff_seconds


def test_each_attempt_waits_twice_as_long_up_to_the_cap():
    assert [backoff_seconds(n, base=5, cap=3600) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff_seconds(20, base=5, cap=3600) == 3600


def test_jitter_spreads_each_wait_over_up_to_twice_its_length():
    waits = [backoff_seconds(3, base=20, jitter=True) for _ in range(200)]
    assert all(80 <= wait < 160 for wait in waits)
    assert len(set(waits)) > 100  # not the same wait for every sender
