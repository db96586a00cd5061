"""Helpers any app's tests use."""

import time

from conversations import events
from conversations.models import InboxEvent


def broadcast(event: events.Event) -> InboxEvent:
    """Log and push one event (from a builder such as `conversation_updated_event`) as a
    change does; its log entry."""
    [logged] = events.broadcast_on_commit(event)
    return logged


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.02):
    """Poll `predicate` until it returns something truthy (returned) or `timeout` passes (its
    last, falsy, answer is returned)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def at_once(call, *, times: int = 4, timeout: float = 30) -> list:
    """Run `call()` in `times` threads released together (each with its own database
    connection); their results, after asserting that none raised."""
    import threading

    from django.db import connections

    barrier = threading.Barrier(times)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(call())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not errors, errors
    return results
