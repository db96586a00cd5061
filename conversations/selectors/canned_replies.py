"""Canned replies an agent looks up from the composer by typing `/` and part of a shortcut."""

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from conversations.models import CannedReply


def canned_reply_search(*, query: str = "", limit: int = 20) -> QuerySet:
    """Replies whose shortcut, title or text contains `query` (all of them for ""): those whose
    shortcut starts with it first, then those whose title does, each group by shortcut."""
    query = query.strip().removeprefix("/")
    if not query:
        return CannedReply.objects.order_by("shortcut")[:limit]
    return (
        CannedReply.objects.filter(Q(shortcut__icontains=query) | Q(title__icontains=query) | Q(text__icontains=query))
        .annotate(
            rank=Case(
                When(shortcut__istartswith=query, then=Value(0)),
                When(title__istartswith=query, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("rank", "shortcut")[:limit]
    )
