"""A conversation's episodes, read from its messages alone, so a rebuild from the raw rows gives
what the incremental refresh gave.

An episode opens with a customer's message when none is open (a new conversation, or one
resolved before), or when an agent reopens a resolved conversation. Its first response is the
first outbound message an agent (a user) sent after that; notes and activity entries are never
replies. It ends when the conversation is resolved (the status activity entry). Snoozes and
pending do not end it.
"""

from dataclasses import dataclass

from django.db.models import Q

from conversations.models import Conversation, Message
from conversations.reports.hours import business_seconds, local_day
from conversations.reports.models import NO_AGENT, ReportDuration, ReportEpisode

RESOLVED, OPEN = Conversation.Status.RESOLVED.value, Conversation.Status.OPEN.value
INBOUND, OUTBOUND = Message.Direction.INBOUND.value, Message.Direction.OUTBOUND.value

# Only the rows that can move an episode: customer and outbound messages, and status changes.
EPISODE_ROWS = Q(direction__in=[INBOUND, OUTBOUND]) | Q(kind=Message.Kind.ACTIVITY, structured__activity__action="status")
EPISODE_COLUMNS = ("conversation_id", "direction", "sent_by_id", "created_at", "structured__activity__status")


def episode_rows(conversation_ids):
    """The rows `episodes_walk` needs, per conversation in thread order."""
    return (
        Message.objects.filter(EPISODE_ROWS, conversation_id__in=conversation_ids)
        .order_by("conversation_id", "created_at", "id")
        .values_list(*EPISODE_COLUMNS)
    )


@dataclass
class _Open:
    opened_at: object
    first_response_at: object = None
    responder_id: int | None = None


def episodes_walk(rows, *, conversations: dict, zone, schedule) -> list[ReportEpisode]:
    """Episodes (unsaved) from `episode_rows` output; `conversations` maps id → (channel, assignee_id)."""
    built, current, current_id = [], None, None

    def close(resolved_at=None):
        channel, assignee_id = conversations[current_id]
        built.append(_episode(current_id, channel, assignee_id, current, resolved_at, zone=zone, schedule=schedule))

    for conversation_id, direction, sent_by_id, at, status in rows:
        if conversation_id != current_id:
            if current is not None:
                close()
            current, current_id = None, conversation_id
        if direction == INBOUND:
            if current is None:
                current = _Open(opened_at=at)
        elif direction == OUTBOUND:
            if current is not None and current.first_response_at is None and sent_by_id is not None:
                current.first_response_at, current.responder_id = at, sent_by_id
        elif status == RESOLVED:
            if current is not None:
                close(resolved_at=at)
                current = None
        elif status == OPEN and current is None:
            current = _Open(opened_at=at)
    if current is not None:
        close()
    return built


def _episode(conversation_id, channel, assignee_id, episode: _Open, resolved_at, *, zone, schedule) -> ReportEpisode:
    opened_at, responded_at = episode.opened_at, episode.first_response_at

    def seconds(end):
        return None if end is None else (end - opened_at).total_seconds()

    def business(end):
        return None if end is None else business_seconds(opened_at, end, zone=zone, schedule=schedule)

    return ReportEpisode(
        conversation_id=conversation_id,
        channel=channel,
        agent_id=episode.responder_id or assignee_id,
        opened_at=opened_at,
        opened_day=local_day(opened_at, zone),
        first_response_at=responded_at,
        first_response_seconds=seconds(responded_at),
        first_response_business_seconds=business(responded_at),
        resolved_at=resolved_at,
        resolved_day=None if resolved_at is None else local_day(resolved_at, zone),
        resolution_seconds=seconds(resolved_at),
        resolution_business_seconds=business(resolved_at),
    )


def episode_durations(episode: ReportEpisode, labels: list[int]) -> list[ReportDuration]:
    """The duration rows of `episode` (unsaved); `labels`: its conversation's label ids."""
    Kind = ReportDuration.Kind
    found = []
    for kind, seconds, day in (
        (Kind.FIRST_RESPONSE, episode.first_response_seconds, episode.opened_day),
        (Kind.FIRST_RESPONSE_BUSINESS, episode.first_response_business_seconds, episode.opened_day),
        (Kind.RESOLUTION, episode.resolution_seconds, episode.resolved_day),
        (Kind.RESOLUTION_BUSINESS, episode.resolution_business_seconds, episode.resolved_day),
    ):
        if seconds is not None:
            found.append(ReportDuration(conversation_id=episode.conversation_id, kind=kind, seconds=seconds, day=day,
                                        channel=episode.channel, agent_id=episode.agent_id or NO_AGENT, labels=labels))
    return found
