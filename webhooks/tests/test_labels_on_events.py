"""A labelled conversation's webhook events carry its labels, read with the rows they already read."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.models import Conversation, InboxEvent, Label, Message
from conversations.tests.factories import ContactFactory, ConversationFactory
from webhooks.tests.support import receipts_apply_all

pytestmark = pytest.mark.django_db

BILLING = {"name": "billing", "colour": "#2563eb"}


def applied_queries() -> int:
    """How many statements applying the one pending receipt takes; none of them may read the
    labels on its own (only inside the statement that reads the conversation)."""
    link_table = Conversation.labels.through._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        assert receipts_apply_all() == 1
    label_reads = [query["sql"] for query in queries if link_table in query["sql"]]
    assert all(" cv " in sql and ("jsonb_agg" in sql or "json_group_array" in sql) for sql in label_reads), label_reads
    return len(queries)


def test_inbound_event_carries_the_labels_at_no_extra_query(webhooks):
    label = Label.objects.create(**BILLING)
    plain = ConversationFactory(contact=ContactFactory(phone="+14155550123"), channel="sms")
    labelled = ConversationFactory(contact=ContactFactory(phone="+14155550124"), channel="sms")
    labelled.labels.add(label)
    webhooks.inbound("sms", From="14155550123", MessageUUID="00000000-0000-4000-8000-000000000001")  # warm-up
    webhooks.inbound("sms", From="14155550123", MessageUUID="00000000-0000-4000-8000-000000000002", apply=False)
    unlabelled_cost = applied_queries()
    webhooks.inbound("sms", From="14155550124", MessageUUID="00000000-0000-4000-8000-000000000003", apply=False)
    assert applied_queries() == unlabelled_cost
    created = [event.data["conversation"] for event in InboxEvent.objects.filter(type="message.created").order_by("id")]
    assert [(row["id"], row["labels"]) for row in created] == [(plain.pk, []), (plain.pk, []), (labelled.pk, [BILLING])]


def test_delivery_report_event_carries_the_labels_at_no_extra_query(webhooks):
    label = Label.objects.create(**BILLING)

    def sent_message(phone, uuid):
        conversation = ConversationFactory(contact=ContactFactory(phone=phone), channel="whatsapp")
        message = Message.objects.create(
            conversation=conversation, direction="outbound", status="sent", text="hi", plivo_message_uuid=uuid
        )
        type(conversation).objects.filter(pk=conversation.pk).update(last_message=message)
        return conversation

    sent_message("+14155550130", "00000000-0000-4000-8000-0000000000a0")
    sent_message("+14155550131", "00000000-0000-4000-8000-0000000000a1")
    labelled = sent_message("+14155550132", "00000000-0000-4000-8000-0000000000a2")
    labelled.labels.add(label)
    webhooks.status(MessageUUID="00000000-0000-4000-8000-0000000000a0", ParentMessageUUID="00000000-0000-4000-8000-0000000000a0")
    webhooks.status(MessageUUID="00000000-0000-4000-8000-0000000000a1", ParentMessageUUID="00000000-0000-4000-8000-0000000000a1", apply=False)
    unlabelled_cost = applied_queries()
    webhooks.status(MessageUUID="00000000-0000-4000-8000-0000000000a2", ParentMessageUUID="00000000-0000-4000-8000-0000000000a2", apply=False)
    assert applied_queries() == unlabelled_cost
    last = InboxEvent.objects.filter(type="conversation.updated").latest("id").data["conversation"]
    assert (last["id"], last["labels"]) == (labelled.pk, [BILLING])
