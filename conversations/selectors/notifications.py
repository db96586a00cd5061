"""An agent's notifications, newest first, and how many are unread."""

from dataclasses import dataclass

from conversations.models import Notification
from conversations.selectors.cursors import created_before, newest_page


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
        notifications = created_before(notifications, cursor, field="cursor")
    page, next_cursor = newest_page(notifications, limit=limit)
    return NotificationPage(notifications=page, next_cursor=next_cursor)
