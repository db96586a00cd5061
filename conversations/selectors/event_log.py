"""The event catch-up feed: what a reconnecting page missed, replayed from `InboxEvent`."""

from dataclasses import dataclass

from conversations.models import InboxEvent, InboxEventPruning


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
