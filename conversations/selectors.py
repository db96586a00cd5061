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
from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.dateparse import parse_datetime

from conversations.models import Contact, Conversation, InboxEvent, InboxEventPruning, Message
from conversations.sql import select_one, table


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


def _tsquery(terms: list[str]) -> str:
    """Every word must appear, each as a prefix ("refu" finds "refund"). Terms are word
    characters only, so nothing needs quoting."""
    return " & ".join(f"'{term}':*" for term in terms)


def _phone_digits(query: str) -> str:
    """The digits of a query that looks like (part of) a phone number, else ''."""
    if re.fullmatch(r"[\d\s+().-]+", query):
        digits = re.sub(r"\D", "", query)
        if len(digits) >= 3:
            return digits
    return ""


def _contact_match(query: str) -> Q:
    match = Q(display_name__icontains=query)
    digits = _phone_digits(query)
    if digits:
        match |= Q(phone__contains=digits)
    return match


def _indexed_message_match(query: str) -> QuerySet:
    """Messages matching `query`: on PostgreSQL through the `simple` full-text GIN index
    (migration 0002), every word as a prefix; elsewhere a plain scan."""
    if not settings.DATABASE_IS_POSTGRES:
        return Message.objects.filter(text__icontains=query)
    terms = _search_terms(query)
    if not terms:
        return Message.objects.none()
    return Message.objects.annotate(search=SearchVector("text", config="simple")).filter(
        search=SearchQuery(_tsquery(terms), config="simple", search_type="raw")
    )


def conversation_search(conversations: QuerySet, query: str) -> QuerySet:
    """Narrow `conversations` to those whose contact name or phone, or any message, matches.

    The plain form, good for any number of matches; `conversation_list_for_inbox` tries two
    cheaper routes first. Uses the indexes of migration 0002: trigram GIN on
    UPPER(display_name) (what `icontains` compiles to) and on phone, and the message GIN.
    """
    query = query.strip()
    if not query:
        return conversations
    contacts = Contact.objects.filter(_contact_match(query)).values("pk")
    messages = _indexed_message_match(query)
    return conversations.filter(Q(contact_id__in=contacts) | Exists(messages.filter(conversation_id=OuterRef("pk"))))


# Search takes the cheapest of three routes to the same page:
# 1. Few matches anywhere (a name, a phone number, an order number, a rare word): collect the
#    matching conversation ids from the indexes, then page through just those.
# 2. Many matches (a common word): test the newest conversations of the list a window at a
#    time; a page fills after a window or two, each conversation's few messages tested directly.
# 3. Many matches, but few among the newest conversations: the plain query.
SEARCH_FEW = 5000
SEARCH_WINDOW = 200
SEARCH_WINDOWS = 2


def _search_few(query: str) -> set[int] | None:
    """Ids of every conversation matching `query`, or None if there are too many to list."""
    contacts = Contact.objects.filter(_contact_match(query)).values("pk")
    from_contacts = list(
        Conversation.objects.filter(contact_id__in=contacts).order_by().values_list("pk", flat=True)[: SEARCH_FEW + 1]
    )
    if len(from_contacts) > SEARCH_FEW:
        return None
    # Not DISTINCT: a LIMIT lets PostgreSQL stop reading matches as soon as there are too many.
    from_messages = list(_indexed_message_match(query).order_by().values_list("conversation_id", flat=True)[: SEARCH_FEW + 1])
    if len(from_messages) > SEARCH_FEW:
        return None
    return set(from_messages) | set(from_contacts)


def _messages_matching_in(conversation_ids: list[int], query: str) -> set[int]:
    """Which of these conversations have a message matching `query`, tested row by row."""
    messages = Message.objects.filter(conversation_id__in=conversation_ids)
    if settings.DATABASE_IS_POSTGRES:
        terms = _search_terms(query)
        if not terms:
            return set()
        # Deliberately not the indexed expression (no COALESCE): the GIN index would fetch
        # every matching message in the whole table; these few threads are cheaper to test.
        matches = RawSQL(
            "to_tsvector('simple'::regconfig, text) @@ to_tsquery('simple'::regconfig, %s)",
            [_tsquery(terms)],
            output_field=BooleanField(),
        )
        messages = messages.annotate(search_hit=matches).filter(search_hit=True)
    else:
        messages = messages.filter(text__icontains=query)
    return set(messages.order_by().values_list("conversation_id", flat=True).distinct())


def _after(conversations: QuerySet, moment, pk) -> QuerySet:
    return conversations.filter(Q(last_message_at__lt=moment) | Q(last_message_at=moment, pk__lt=pk))


def _search_in_newest_windows(conversations: QuerySet, query: str, limit: int) -> list[int] | None:
    """Ids of the first `limit` + 1 matches in list order, or None when the newest windows
    held too few matches to be sure of the page."""
    ordered = conversations.order_by("-last_message_at", "-pk")
    matched: list[int] = []
    for _ in range(SEARCH_WINDOWS):
        window = list(ordered.values_list("pk", "contact_id", "last_message_at")[:SEARCH_WINDOW])
        if not window:
            return matched
        hits = _messages_matching_in([pk for pk, _, _ in window], query)
        contact_hits = set(
            Contact.objects.filter(_contact_match(query), pk__in={contact for _, contact, _ in window}).values_list(
                "pk", flat=True
            )
        )
        matched += [pk for pk, contact, _ in window if pk in hits or contact in contact_hits]
        if len(matched) > limit or len(window) < SEARCH_WINDOW:
            return matched[: limit + 1]
        last_pk, _, last_moment = window[-1]
        ordered = _after(ordered, last_moment, last_pk)
    return None


# The list shows a preview of each conversation's last message; its structured parts (an
# inbound message keeps Plivo's whole raw payload) would only be decoded to be thrown away.
LAST_MESSAGE_UNUSED = ("last_message__payload", "last_message__media", "last_message__error_message")


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
    if cursor:
        moment, pk = decode_cursor(cursor)
        conversations = _after(conversations, moment, pk)
    query = query.strip()
    if query:
        few = _search_few(query)
        if few is not None:
            conversations = conversations.filter(pk__in=few)
        else:
            newest = _search_in_newest_windows(conversations, query, limit)
            if newest is not None:
                conversations = Conversation.objects.filter(pk__in=newest)
            else:
                conversations = conversation_search(conversations, query)
    page = list(
        conversations.select_related("contact", "assignee", "last_message")
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


def conversation_view_counts(*, user, status: str | None = None, channel: str | None = None) -> dict:
    """How many conversations each view (Mine / Unassigned / All) holds, up to COUNT_LIMIT
    (a count equal to COUNT_LIMIT means "at least that many")."""
    parts, params = [], []
    for view in VIEWS:
        # order_by(): the model's default order (NULLS LAST) would sort every row first.
        rows = conversation_filter(user=user, view=view, status=status, channel=channel).order_by().values("pk")
        sql, view_params = rows[:COUNT_LIMIT].query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS {view}_rows)")
        params.extend(view_params)
    with connection.cursor() as cursor:  # one round trip for the three counts
        cursor.execute("SELECT " + ", ".join(parts), params)
        return dict(zip(VIEWS, cursor.fetchone()))


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
    if InboxEventPruning.objects.filter(pruned_through__gt=after).exists():
        # The log was cut past this page's cursor: it may have missed what was deleted.
        return EventPage(events=[], last_cursor=inbox_event_head(), reset=True)
    if len(events) > limit:
        return EventPage(events=[], last_cursor=inbox_event_head(), reset=True)
    if not events:
        head = inbox_event_head()
        if after > head:  # a cursor from before the log was reset: the page's state is unknown
            return EventPage(events=[], last_cursor=head, reset=True)
    last = events[-1].id if events else max(after, 0)
    return EventPage(events=events, last_cursor=last, reset=False)


# --- the webhook hot path ---------------------------------------------------------------------
# Each webhook reads one of these. Written as SQL once rather than as `select_related`
# querysets, which the ORM rebuilt for every request at several times the database's cost.


def conversation_for_sender(*, phone: str, channel: str) -> Conversation | None:
    """The conversation of the contact with E.164 `phone` on `channel`, with its contact and
    assignee, or None on first contact."""
    row = select_one(
        {"cv": Conversation, "ct": Contact, "ag": get_user_model()},
        f"FROM {table(Conversation)} cv JOIN {table(Contact)} ct ON ct.id = cv.contact_id "
        f"LEFT JOIN {table(get_user_model())} ag ON ag.id = cv.assignee_id WHERE ct.phone = %s AND cv.channel = %s",
        [phone, channel],
    )
    if row is None:
        return None
    conversation = row["cv"]
    conversation.contact, conversation.assignee = row["ct"], row["ag"]
    return conversation


def message_with_event_relations(*, plivo_uuid: str | None = None, pk: int | None = None) -> Message | None:
    """One message by Plivo uuid or id, with everything its inbox events show: sender,
    replied-to message, conversation, contact and assignee."""
    user = table(get_user_model())
    where, params = ("m.plivo_message_uuid = %s", [plivo_uuid]) if plivo_uuid is not None else ("m.id = %s", [pk])
    row = select_one(
        {"m": Message, "cv": Conversation, "ct": Contact, "ag": get_user_model(), "sb": get_user_model(), "rt": Message},
        f"FROM {table(Message)} m JOIN {table(Conversation)} cv ON cv.id = m.conversation_id "
        f"JOIN {table(Contact)} ct ON ct.id = cv.contact_id LEFT JOIN {user} ag ON ag.id = cv.assignee_id "
        f"LEFT JOIN {user} sb ON sb.id = m.sent_by_id LEFT JOIN {table(Message)} rt ON rt.id = m.reply_to_id WHERE {where}",
        params,
    )
    if row is None:
        return None
    message, conversation = row["m"], row["cv"]
    conversation.contact, conversation.assignee = row["ct"], row["ag"]
    message.conversation, message.sent_by, message.reply_to = conversation, row["sb"], row["rt"]
    return message
