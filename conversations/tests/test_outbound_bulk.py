"""Bulk queueing (`messages_queue_bulk`): the checks `message_send` makes, per message, with the
refused ones coming back by key; everything accepted written in one transaction with the
caller's own bookkeeping; one inbox event per message, pushed once; and a number of queries
per batch that does not grow with the batch."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations import events
from conversations.models import InboxEvent, Message, OutboundJob
from conversations.outbound import BulkMessage, messages_queue_bulk
from conversations.privacy.suppression import number_suppress
from conversations.reports.models import ReportPending
from conversations.services.contacts import contact_opt_out
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageTemplateFactory
from conversations.tests.outbound_support import drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def pushes(monkeypatch):
    sent = []
    monkeypatch.setattr(events, "group_send", lambda group, message: sent.append((group, message)))
    return sent


def template_call(*values, name="order_shipped"):
    return {"name": name, "language": "en_US", "parameters": {"body": list(values)}}


def threads(count, *, channel="whatsapp", start=4000, **kwargs):
    return [ConversationFactory(contact=ContactFactory(phone=f"+1415555{start + n:04d}"), channel=channel, **kwargs)
            for n in range(count)]


def template_items(conversations, **kwargs):
    return [BulkMessage(key=f"r{n}", conversation_id=c.pk, kind="template", template=template_call("Ann", f"#{n}"), **kwargs)
            for n, c in enumerate(conversations)]


def test_every_accepted_message_is_queued_with_its_job_at_bulk_priority(django_capture_on_commit_callbacks):
    MessageTemplateFactory(name="order_shipped")
    conversations = threads(3)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = messages_queue_bulk(items=template_items(conversations))
    assert not outcome.refusals and set(outcome.messages) == {"r0", "r1", "r2"}
    message = outcome.messages["r1"]
    message.refresh_from_db()
    assert (message.status, message.kind, message.text) == ("queued", "template", "Hi Ann, your order #1 has shipped.")
    assert message.structured["template"]["components"][0]["parameters"][1]["text"] == "#1"
    assert message.outbound_job.priority == OutboundJob.Priority.BULK and message.outbound_job.state == "pending"
    conversations[1].refresh_from_db()
    assert conversations[1].last_message_id == message.pk
    assert ReportPending.objects.filter(conversation_id=conversations[1].pk).exists()


def test_each_refusal_comes_back_with_its_reason_and_the_rest_is_queued():
    MessageTemplateFactory(name="order_shipped")
    ok, opted_out, suppressed, erased, bad_params, own_number, window_closed = threads(7)
    contact_opt_out(contact=opted_out.contact, channel="whatsapp", reason="STOP")
    number_suppress(phone=suppressed.contact.phone, channel="whatsapp")
    erased.contact.__class__.objects.filter(pk=erased.contact_id).update(erased_at=timezone.now())
    own_number.contact.__class__.objects.filter(pk=own_number.contact_id).update(phone="+14155550100")
    window_closed.__class__.objects.filter(pk=window_closed.pk).update(last_inbound_at=timezone.now() - timedelta(days=2))
    items = template_items([ok, opted_out, suppressed, erased, own_number])
    items.append(BulkMessage(key="bad_params", conversation_id=bad_params.pk, kind="template", template=template_call("only one")))
    items.append(BulkMessage(key="window", conversation_id=window_closed.pk, kind="text", text="hello"))
    items.append(BulkMessage(key="gone", conversation_id=10**9, kind="text", text="hello"))
    outcome = messages_queue_bulk(items=items)
    assert set(outcome.messages) == {"r0"}
    assert {key: exc.code for key, exc in outcome.refusals.items()} == {
        "r1": "opted_out", "r2": "opted_out", "r3": "opted_out", "r4": "invalid_phone",
        "bad_params": "template_parameters", "window": "window_closed", "gone": "not_found",
    }
    assert outcome.refusals["bad_params"].field == "template.parameters.body"
    assert Message.objects.filter(direction="outbound").count() == OutboundJob.objects.count() == 1


def test_a_template_no_longer_approved_refuses_every_message_of_it():
    MessageTemplateFactory(name="order_shipped", status="PAUSED")
    outcome = messages_queue_bulk(items=template_items(threads(3)))
    assert not outcome.messages
    assert {exc.code for exc in outcome.refusals.values()} == {"template_not_approved"}
    assert not Message.objects.filter(direction="outbound").exists()


def test_sms_text_goes_out_whatever_the_window():
    conversations = threads(2, channel="sms", last_inbound_at=None)
    outcome = messages_queue_bulk(items=[BulkMessage(key=c.pk, conversation_id=c.pk, kind="text", text="News") for c in conversations])
    assert set(outcome.messages) == {c.pk for c in conversations}
    too_long = messages_queue_bulk(items=[BulkMessage(key=1, conversation_id=conversations[0].pk, kind="text", text="x" * 1601)])
    assert too_long.refusals[1].code == "too_long"


def test_the_callers_bookkeeping_is_in_the_same_transaction():
    MessageTemplateFactory(name="order_shipped")
    seen = {}

    def within(messages):
        seen.update(messages)
        assert OutboundJob.objects.filter(message__in=messages.values()).count() == 3  # written before the caller's part
        raise RuntimeError("the caller's link failed")

    with pytest.raises(RuntimeError):
        messages_queue_bulk(items=template_items(threads(3)), within=within)
    assert len(seen) == 3
    assert not Message.objects.filter(direction="outbound").exists() and not OutboundJob.objects.exists()
    assert not InboxEvent.objects.exists()


def test_one_event_per_message_is_logged_and_all_are_pushed_in_one_message(pushes, django_capture_on_commit_callbacks):
    MessageTemplateFactory(name="order_shipped")
    conversations = threads(4)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = messages_queue_bulk(items=template_items(conversations))
    logged = list(InboxEvent.objects.filter(type="message.created"))
    assert [event.data["message"]["id"] for event in logged] == [outcome.messages[f"r{n}"].pk for n in range(4)]
    assert logged[0].data["conversation"]["last_message"]["id"] == outcome.messages["r0"].pk
    assert len(pushes) == 1
    group, pushed = pushes[0]
    assert group == events.INBOX_GROUP and [e["cursor"] for e in pushed["events"]] == [e.pk for e in logged]


def test_the_number_of_queries_does_not_grow_with_the_batch():
    MessageTemplateFactory(name="order_shipped")
    small, large = threads(3, start=4000), threads(30, start=5000)  # (SQLite splits much larger inserts)
    contact_opt_out(contact=large[7].contact, channel="whatsapp", reason="STOP")
    counts = []
    for conversations in (small, large):
        with CaptureQueriesContext(connection) as queries:
            messages_queue_bulk(items=template_items(conversations))
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 12
    assert Message.objects.filter(direction="outbound").count() == 32


def test_queued_messages_are_sent_by_the_workers(fake_plivo):
    MessageTemplateFactory(name="order_shipped")
    conversations = threads(3)
    messages_queue_bulk(items=template_items(conversations))
    drain()
    assert sorted(request.body["dst"] for request in fake_plivo.sends()) == sorted(c.contact.phone for c in conversations)
