"""An agent's notifications, newest first, and how many are unread."""

from dataclasses import dataclass

from django.db.models import Q

from conversations.models import Notification
from conversations.selectors.cursors import decode_cursor, encode_cursor


@dataclass
class NotificationPage:
    notifications: list  # newest first
    next_cursor: str | None  # pass as ?cursor= for the next (older) page


def notification_unread_count(*, user_id: int) -> int:
    return Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count()


def notification_list_for_user(*, user, unread_only: bool = False, cursor: str | None = None,
                               limit: int = 50) -> NotificationPage:
    notifications = Notification.objects.filter(recipient=user).select_related(
        "actor", "conversation__contact", "message"
    )
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    if cursor:
        moment, pk = decode_cursor(cursor, field="cursor")
        notifications = notifications.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
    page = list(notifications.order_by("-created_at", "-pk")[: limit + 1])
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        next_cursor = encode_cursor(page[-1].created_at, page[-1].pk)
    return NotificationPage(notifications=page, next_cursor=next_cursor)
