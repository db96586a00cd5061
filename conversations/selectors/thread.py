"""A thread's messages, a page at a time, oldest first."""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from conversations.models import Conversation, Message
from conversations.selectors.cursors import created_before, decode_cursor, encode_cursor, newest_page


@dataclass
class MessagePage:
    messages: list  # oldest first
    older_cursor: str | None  # pass as ?before= to load the page before this one
    has_more: bool  # with ?after=: more messages follow the last one returned


def _message_queryset() -> QuerySet:
    return Message.objects.select_related("sent_by", "reply_to")


def message_cursor(message: Message) -> str:
    return encode_cursor(message.created_at, message.pk)


def message_list_for_thread(
    *, conversation: Conversation, before: str | None = None, after: str | None = None, limit: int = 50
) -> MessagePage:
    """The newest `limit` messages (or those before `before`), or the ones after `after`.

    Either way the page is returned oldest first, ready to append to a thread.
    """
    messages = _message_queryset().filter(conversation=conversation)
    if after:
        moment, pk = decode_cursor(after, field="after")
        newer = list(
            messages.filter(Q(created_at__gt=moment) | Q(created_at=moment, pk__gt=pk)).order_by("created_at", "pk")[
                : limit + 1
            ]
        )
        return MessagePage(messages=newer[:limit], older_cursor=None, has_more=len(newer) > limit)
    if before:
        messages = created_before(messages, before, field="before")
    page, older_cursor = newest_page(messages, limit=limit)
    page.reverse()
    return MessagePage(messages=page, older_cursor=older_cursor, has_more=False)
