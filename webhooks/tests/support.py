"""Helpers for tests that need received webhooks applied now."""

from webhooks.services import receipts_apply


def receipts_apply_all(*, limit: int = 50) -> int:
    """Apply receipts until none is due; how many were taken. What a running webhook worker
    would do next, for a test that cannot wait for one."""
    total = 0
    while taken := receipts_apply(limit=limit):
        total += taken
    return total
