"""Inbox search: a contact's name or phone, or any word of any message."""

import json
import re

from django.conf import settings
from django.db import connection
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from conversations.models import Contact, Conversation, Message
from conversations.selectors.cursors import conversations_after


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

    The plain form, good for any number of matches; `conversations_matching` tries two
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
# On PostgreSQL the planner's estimates (no rows read) pick the route: route 1 only when few
# messages are expected to match (listing many is what costs; the estimate of a word runs up to a
# few times low, hence the margin), route 2 only when matches are expected among at least this
# share of the conversations (sparser, and both windows would miss).
SEARCH_FEW_EXPECTED_SHARE = 0.25
SEARCH_DENSE = 0.1


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
        ordered = conversations_after(ordered, last_moment, last_pk)
    return None


def _planned_rows(queryset: QuerySet) -> float:
    """How many rows PostgreSQL's planner expects `queryset` to give (it plans, reads nothing)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"]


def _expected_matches(query: str) -> tuple[float, float]:
    """(matching contacts, matching messages) as the planner expects them; on SQLite (no such
    estimate) small enough that every route is tried in turn."""
    if not settings.DATABASE_IS_POSTGRES:
        return 0, 0
    return _planned_rows(Contact.objects.filter(_contact_match(query))), _planned_rows(_indexed_message_match(query))


def conversations_matching(conversations: QuerySet, query: str, *, limit: int) -> QuerySet:
    """Narrow `conversations` to those matching `query` by the cheapest of the three routes;
    exact for the first `limit` + 1 in list order, which is all a page reads. Every route gives
    the same page: the estimates only choose which is tried."""
    contacts, messages = _expected_matches(query)
    # Contacts are listed first and stop at SEARCH_FEW (cheap either way, and a phone fragment's
    # estimate runs far too high to go by); the message index is the costly one to list (but
    # digits, rare in messages, get the planner's default estimate: far too high too).
    if _phone_digits(query) or messages <= SEARCH_FEW * SEARCH_FEW_EXPECTED_SHARE:
        few = _search_few(query)
        if few is not None:
            return conversations.filter(pk__in=few)
    if not settings.DATABASE_IS_POSTGRES or contacts + messages >= SEARCH_DENSE * _planned_rows(Conversation.objects.all()):
        newest = _search_in_newest_windows(conversations, query, limit)
        if newest is not None:
            return Conversation.objects.filter(pk__in=newest)
    return conversation_search(conversations, query)
