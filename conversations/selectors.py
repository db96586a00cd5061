"""Reads that span relations: the inbox list, a thread's messages and the event catch-up feed.

Every list is keyset-paginated (an opaque cursor, never an OFFSET) so page 2,000 costs what
page 1 costs, and every queryset selects what its serializer touches (no N+1).
"""

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.dateparse import parse_datetime

from conversations.models import Contact, Conversation, InboxEvent, Message


class InvalidCursor(ValueError):
    """A cursor this server did not hand out (or one from another list)."""


# --- cursors --------------------------------------------------------------------------------
def encode_cursor(moment: datetime, pk: int) -> str:
    raw = f"{moment.isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment_text, pk_text = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
        moment = parse_datetime(moment_text)
        pk = int(pk_text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor("This cursor is not valid; start again without it.") from exc
    if moment is None or moment.tzinfo is None:
        raise InvalidCursor("This cursor is not valid; start again without it.")
    return moment, pk


# --- the conversation list --------------------------------------------------------------------
VIEWS = ("mine", "unassigned", "all")


@dataclass
class ConversationPage:
    conversations: list
    next_cursor: str | None


def conversation_filter(
    *, user, view: str = "all", status: str | None = None, channel: str | None = None, assignee_id: int | None = None
) -> QuerySet:
    """Conversations that have had any activity, narrowed by view, status tab and channel."""
    conversations = Conversation.objects.filter(last_message_at__isnull=False)
    if status:
        conversations = conversations.filter(status=status)
    if channel:
        conversations = conversations.filter(channel=channel)
    if view == "mine":
        conversations = conversations.filter(assignee=user)
    elif view == "unassigned":
        conversations = conversations.filter(assignee__isnull=True)
    if assignee_id is not None:
        conversations = conversations.filter(assignee_id=assignee_id)
    return conversations


def _search_terms(query: str) -> list[str]:
    return re.findall(r"\w+", query)[:8]


def _phone_digits(query: str) -> str:
    """The digits of a query that looks like (part of) a phone number, else ''."""
    if re.fullmatch(r"[\d\s+().-]+", query):
        digits = re.sub(r"\D", "", query)
        if len(digits) >= 3:
            return digits
    return ""


def conversation_search(conversations: QuerySet, query: str) -> QuerySet:
    """Narrow `conversations` to those whose contact name or phone, or any message, matches.

    On PostgreSQL this uses the indexes of migration 0002: trigram GIN on UPPER(display_name)
    (what `icontains` compiles to) and on phone, and the `simple` text-search GIN on message
    text, with every word matched as a prefix so "refu" finds "refund".
    """
    query = query.strip()
    if not query:
        return conversations
    contact_match = Q(display_name__icontains=query)
    digits = _phone_digits(query)
    if digits:
        contact_match |= Q(phone__contains=digits)
    contacts = Contact.objects.filter(contact_match).values("pk")

    terms = _search_terms(query)
    if settings.DATABASE_IS_POSTGRES:
        if terms:
            tsquery = " & ".join(f"'{term}':*" for term in terms)
            messages = Message.objects.annotate(search=SearchVector("text", config="simple")).filter(
                search=SearchQuery(tsquery, config="simple", search_type="raw")
            )
        else:
            messages = Message.objects.none()
    else:
        messages = Message.objects.filter(text__icontains=query)
    message_match = Exists(messages.filter(conversation_id=OuterRef("pk")))
    return conversations.filter(Q(contact_id__in=contacts) | message_match)


def conversation_list_for_inbox(
    *,
    user,
    view: str = "all",
    status: str | None = None,
    channel: str | None = None,
    assignee_id: int | None = None,
    query: str = "",
    cursor: str | None = None,
    limit: int = 50,
) -> ConversationPage:
    """One page of the inbox list, newest activity first."""
    conversations = conversation_filter(user=user, view=view, status=status, channel=channel, assignee_id=assignee_id)
    conversations = conversation_search(conversations, query)
    if cursor:
        moment, pk = decode_cursor(cursor)
        conversations = conversations.filter(Q(last_message_at__lt=moment) | Q(last_message_at=moment, pk__lt=pk))
    page = list(
        conversations.select_related("contact", "assignee", "last_message").order_by("-last_message_at", "-pk")[
            : limit + 1
        ]
    )
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        next_cursor = encode_cursor(page[-1].last_message_at, page[-1].pk)
    return ConversationPage(conversations=page, next_cursor=next_cursor)


def conversation_view_counts(*, user, status: str | None = None, channel: str | None = None) -> dict:
    """How many conversations each view (Mine / Unassigned / All) holds, in one query."""
    counts = conversation_filter(user=user, status=status, channel=channel).aggregate(
        all=Count("pk"),
        mine=Count("pk", filter=Q(assignee=user)),
        unassigned=Count("pk", filter=Q(assignee__isnull=True)),
    )
    return {view: counts[view] for view in VIEWS}


def conversation_get_for_inbox(*, conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("contact", "assignee", "last_message").get(pk=conversation_id)


# --- a thread's messages ---------------------------------------------------------------------
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
        moment, pk = decode_cursor(after)
        newer = list(
            messages.filter(Q(created_at__gt=moment) | Q(created_at=moment, pk__gt=pk)).order_by("created_at", "pk")[
                : limit + 1
            ]
        )
        return MessagePage(messages=newer[:limit], older_cursor=None, has_more=len(newer) > limit)
    if before:
        moment, pk = decode_cursor(before)
        messages = messages.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
    page = list(messages.order_by("-created_at", "-pk")[: limit + 1])
    older_cursor = None
    if len(page) > limit:
        page = page[:limit]
        older_cursor = message_cursor(page[-1])
    page.reverse()
    return MessagePage(messages=page, older_cursor=older_cursor, has_more=False)


# --- the event log -----------------------------------------------------------------------------
@dataclass
class EventPage:
    events: list
    last_cursor: int
    reset: bool  # the gap is too large to replay: reload the list and continue from last_cursor


def inbox_event_head() -> int:
    """The newest event cursor: a page that loads its data after reading this misses nothing."""
    return InboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def inbox_events_after(*, after: int, limit: int = 500) -> EventPage:
    events = list(InboxEvent.objects.filter(id__gt=after).order_by("id")[: limit + 1])
    if len(events) > limit:
        return EventPage(events=[], last_cursor=inbox_event_head(), reset=True)
    if not events:
        head = inbox_event_head()
        if after > head:  # a cursor from before the log was reset: the page's state is unknown
            return EventPage(events=[], last_cursor=head, reset=True)
    last = events[-1].id if events else max(after, 0)
    return EventPage(events=events, last_cursor=last, reset=False)
