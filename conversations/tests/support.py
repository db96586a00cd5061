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
