"""The inbox list: one page of conversations, newest activity first, and each view's count.

Every queryset selects what its serializer touches (no N+1).
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from conversations.models import Conversation
from conversations.selectors.cursors import conversations_after, decode_cursor, encode_cursor
from conversations.selectors.labels import with_label_summaries
from conversations.selectors.search import conversations_matching

VIEWS = ("mine", "unassigned", "all")


@dataclass
class ConversationPage:
    conversations: list
    next_cursor: str | None


def conversation_filter(
    *,
    user,
    view: str = "all",
    status: str | None = None,
    channel: str | None = None,
    assignee_id: int | None = None,
    label_id: int | None = None,
) -> QuerySet:
    """Conversations that have had any activity, narrowed by view, status tab, channel and label."""
    conversations = Conversation.objects.filter(last_message_at__isnull=False)
    if status:
        conversations = conversations.filter(status=status)
    if channel:
        conversations = conversations.filter(channel=channel)
    if label_id is not None:
        conversations = conversations.filter(labels=label_id)
    if view == "mine":
        conversations = conversations.filter(assignee=user)
    elif view == "unassigned":
        conversations = conversations.filter(assignee__isnull=True)
    if assignee_id is not None:
        conversations = conversations.filter(assignee_id=assignee_id)
    return conversations


# The list shows a preview of each conversation's last message; its structured parts (an
# inbound message keeps Plivo's whole raw payload) would only be decoded to be thrown away.
LAST_MESSAGE_UNUSED = ("last_message__structured", "last_message__media", "last_message__error_message")


def conversation_list_for_inbox(
    *,
    user,
    view: str = "all",
    status: str | None = None,
    channel: str | None = None,
    assignee_id: int | None = None,
    label_id: int | None = None,
    query: str = "",
    cursor: str | None = None,
    limit: int = 50,
) -> ConversationPage:
    """One page of the inbox list, newest activity first."""
    conversations = conversation_filter(
        user=user, view=view, status=status, channel=channel, assignee_id=assignee_id, label_id=label_id
    )
    if cursor:
        moment, pk = decode_cursor(cursor, field="cursor")
        conversations = conversations_after(conversations, moment, pk)
    query = query.strip()
    if query:
        conversations = conversations_matching(conversations, query, limit=limit)
    page = list(
        with_label_summaries(conversations.select_related("contact", "assignee", "last_message"))
        .defer(*LAST_MESSAGE_UNUSED)
        .order_by("-last_message_at", "-pk")[: limit + 1]
    )
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        next_cursor = encode_cursor(page[-1].last_message_at, page[-1].pk)
    return ConversationPage(conversations=page, next_cursor=next_cursor)


# Counting stops here: an exact "70,048" costs a scan of every row on each list load, and an
# agent acts the same on "999+". Each count walks at most this many index entries.
COUNT_LIMIT = 1000


def conversation_view_counts(
    *, user, status: str | None = None, channel: str | None = None, label_id: int | None = None
) -> dict:
    """How many conversations each view (Mine / Unassigned / All) holds, up to COUNT_LIMIT
    (a count equal to COUNT_LIMIT means "at least that many")."""
    parts, params = [], []
    for view in VIEWS:
        # order_by(): the model's default order (NULLS LAST) would sort every row first.
        rows = conversation_filter(user=user, view=view, status=status, channel=channel, label_id=label_id)
        rows = rows.order_by().values("pk")
        sql, view_params = rows[:COUNT_LIMIT].query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS {view}_rows)")
        params.extend(view_params)
    with connection.cursor() as cursor:  # one round trip for the three counts
        cursor.execute("SELECT " + ", ".join(parts), params)
        return dict(zip(VIEWS, cursor.fetchone()))
