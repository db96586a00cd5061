"""An agent's notifications: created when a colleague @mentions them in a note, marked read
by them alone, and pushed live to that agent's own sockets only.

Unlike inbox events these are not written to the event log every agent replays: a
notification is for one person. A page that reconnects refetches `/api/v1/notifications/`.
"""

from django.db import transaction
from django.utils import timezone

from conversations import events
from conversations.models import Message, Notification
from conversations.selectors.notifications import notification_unread_count
from messaging_site.errors import ApplicationError


def notifications_for_mentions(*, note: Message, recipients: list) -> list[Notification]:
    """Tell each of `recipients` that `note` mentions them. Call inside the note's transaction;
    each is pushed to its recipient once that commits."""
    rows = Notification.objects.bulk_create(
        [
            Notification(
                recipient=recipient, kind=Notification.Kind.MENTION, conversation=note.conversation,
                message=note, actor=note.sent_by, created_at=note.created_at,
            )
            for recipient in recipients
        ]
    )
    for notification in rows:
        _push_created_on_commit(notification)
    return rows


def _push_created_on_commit(notification: Notification) -> None:
    recipient_id = notification.recipient_id

    def push():
        # Counted after commit, so that of two notes mentioning one agent at once, the second
        # push counts both.
        unread_count = notification_unread_count(user_id=recipient_id)
        events.user_push(recipient_id, events.notification_created_event(notification, unread_count=unread_count))

    # robust: a failed count or push is logged and must not turn the committed note into an error.
    transaction.on_commit(push, robust=True)


def _push_read_on_commit(user_id: int, *, ids: list[int] | None) -> None:
    def push():
        events.user_push(user_id, events.notifications_read_event(
            ids=ids, unread_count=notification_unread_count(user_id=user_id)))

    transaction.on_commit(push, robust=True)


@transaction.atomic
def notification_mark_read(*, notification_id: int, user) -> Notification:
    """Mark one of `user`'s notifications read (again: no change). Another agent's is "not found"."""
    notification = (
        Notification.objects.select_related("actor", "conversation__contact", "message")
        .filter(pk=notification_id, recipient=user)
        .first()
    )
    if notification is None:
        raise ApplicationError("No such notification.", code="not_found", status=404)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
        _push_read_on_commit(user.pk, ids=[notification.pk])
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user) -> int:
    """Mark every unread notification of `user` read; returns how many were unread."""
    marked = Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())
    if marked:
        _push_read_on_commit(user.pk, ids=None)
    return marked
