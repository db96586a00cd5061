"""Property: however Plivo orders, repeats or delays a message's reports, it ends the same."""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.models import Message, MessageStatusEvent
from conversations.services.delivery_reports import status_events_attach, status_report_apply
from conversations.tests.factories import ConversationFactory, MessageFactory
from webhooks.payloads import StatusReport

pytestmark = pytest.mark.django_db

LIFECYCLES = [
    ["queued", "sent"],
    ["queued", "sent", "delivered"],
    ["queued", "sent", "delivered", "read"],
    ["sent", "delivered", "read"],
    ["queued", "failed"],
    ["queued", "sent", "failed"],
    ["queued", "sent", "undelivered"],
    ["queued", "rejected"],
]
FAILURES = {"failed", "undelivered", "rejected"}
_uuids = itertools.count()


@st.composite
def scenarios(draw):
    statuses = draw(st.sampled_from(LIFECYCLES))
    # Plivo numbers its callbacks; some reports (or all) may come without a Sequence.
    numbered = draw(st.lists(st.booleans(), min_size=len(statuses), max_size=len(statuses)))
    error_code = draw(st.sampled_from(["30", "80", "200", "1000"]))
    lifecycle = [
        (status, position + 1 if numbered[position] else None, error_code if status in FAILURES else "")
        for position, status in enumerate(statuses)
    ]
    repeats = draw(st.lists(st.sampled_from(range(len(lifecycle))), max_size=2 * len(lifecycle)))
    deliveries = draw(st.permutations(list(range(len(lifecycle))) + repeats))
    # How many reports arrive before the send's uuid is stored, and which of those carry our ref.
    known_after = draw(st.integers(min_value=0, max_value=len(deliveries)))
    with_ref = draw(st.lists(st.booleans(), min_size=len(deliveries), max_size=len(deliveries)))
    return lifecycle, deliveries, known_after, with_ref


def final_state(message: Message) -> tuple:
    message.refresh_from_db()
    events = MessageStatusEvent.objects.filter(plivo_message_uuid=message.plivo_message_uuid)
    return (
        message.status,
        message.status_sequence,
        message.error_code,
        message.error_message,
        message.plivo_message_uuid is not None,
        tuple(getattr(message, field) is not None for field in ("sent_at", "delivered_at", "read_at", "failed_at")),
        message.unconfirmed_since is None,
        events.count(),
        events.filter(message=message).count(),
    )


def report(uuid, entry, ref=None) -> StatusReport:
    status, sequence, error_code = entry
    return StatusReport(message_uuid=uuid, status=status, sequence=sequence, error_code=error_code, ref=ref,
                        raw={"Status": status})


@given(scenario=scenarios())
@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_any_order_duplication_and_timing_of_reports_ends_in_the_same_state(scenario):
    lifecycle, deliveries, known_after, with_ref = scenario
    conversation = ConversationFactory(channel="whatsapp")

    in_order = MessageFactory(conversation=conversation, direction="outbound", status="sending",
                              plivo_message_uuid=f"in-order-{next(_uuids)}")
    for entry in lifecycle:
        status_report_apply(report=report(in_order.plivo_message_uuid, entry))

    uuid = f"shuffled-{next(_uuids)}"
    message = MessageFactory(conversation=conversation, direction="outbound", status="sending",
                             plivo_message_uuid=uuid if known_after == 0 else None)
    for position, index in enumerate(deliveries):
        if position == known_after and known_after > 0:
            _send_response_stored(message, uuid)
        ref = message.pk if with_ref[position] else None
        status_report_apply(report=report(uuid, lifecycle[index], ref=ref))
    if known_after == len(deliveries) and known_after > 0:
        _send_response_stored(message, uuid)

    assert final_state(message) == final_state(in_order)


def _send_response_stored(message, uuid):
    """What the outbound worker does when Plivo's API response arrives."""
    Message.objects.filter(pk=message.pk).update(plivo_message_uuid=uuid)
    message.refresh_from_db()
    status_events_attach(message=message)
