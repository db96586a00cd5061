"""Reads that span relations, one module per read; every public name is importable from here.

- cursors.py            the opaque keyset cursor every list pages with (never an OFFSET)
- conversation_list.py  the inbox list and the count of each view
- search.py             inbox search: three routes to the same page
- labels.py             labels: the picker's list, by name, a conversation's labels on the wire
- canned_replies.py     canned replies an agent searches from the composer
- thread.py             a thread's messages
- event_log.py          the event catch-up feed of a reconnecting page
- notifications.py      an agent's notifications and unread count
- templates.py          the approved WhatsApp templates agents may send

The webhook hot path's reads are SQL, in `conversations/sql_reads.py` beside `sql.py`.
"""

from conversations.selectors.conversation_list import (
    COUNT_LIMIT,
    VIEWS,
    ConversationPage,
    conversation_filter,
    conversation_list_for_inbox,
    conversation_view_counts,
)
from conversations.selectors.canned_replies import canned_reply_search
from conversations.selectors.cursors import decode_cursor, encode_cursor
from conversations.selectors.event_log import EventPage, inbox_event_head, inbox_events_after
from conversations.selectors.labels import label_for_filter, label_list, with_label_summaries
from conversations.selectors.notifications import (
    NotificationPage,
    notification_list_for_user,
    notification_unread_count,
)
from conversations.selectors.search import conversation_search
from conversations.selectors.templates import template_list_approved
from conversations.selectors.thread import MessagePage, message_cursor, message_list_for_thread

__all__ = [
    "COUNT_LIMIT",
    "VIEWS",
    "ConversationPage",
    "EventPage",
    "MessagePage",
    "NotificationPage",
    "canned_reply_search",
    "conversation_filter",
    "conversation_list_for_inbox",
    "conversation_search",
    "conversation_view_counts",
    "decode_cursor",
    "encode_cursor",
    "inbox_event_head",
    "inbox_events_after",
    "label_for_filter",
    "label_list",
    "message_cursor",
    "message_list_for_thread",
    "notification_list_for_user",
    "notification_unread_count",
    "template_list_approved",
    "with_label_summaries",
]
