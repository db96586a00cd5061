"""Helpers any app's tests use."""

from conversations import events
from conversations.models import InboxEvent


def broadcast(event: events.Event) -> InboxEvent:
    """Log and push one event (from a builder such as `conversation_updated_event`) as a
    change does; its log entry."""
    [logged] = events.broadcast_on_commit(event)
    return logged
