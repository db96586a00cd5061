"""The customer writes: a snoozed or resolved conversation is open again at once, and its
thread says why. The webhook hot path keeps its one update statement for this."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations.models import Conversation, InboxEvent, Message
from conversations.services.conversations import conversation_record_message
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageFactory
from webhooks.tests.support import receipts_apply_all

pytestmark = pytest.mark.django_db

PHONE = "+14155550123"  # the sender in the `sms` fixture


def thread_with(status, **fields) -> Conversation:
    return ConversationFactory(contact=ContactFactory(phone=PHONE), channel="sms", status=status, **fields)


def entries(conversation) -> list[tuple[str, str]]:
    return [(m.structured["activity"]["action"], m.text) for m in Message.objects.filter(conversation=conversation, kind="activity")]


def test_a_snoozed_conversation_wakes_when_the_customer_writes(webhooks, inbox_listener, django_capture_on_commit_callbacks):
    conversation = thread_with("snoozed", snoozed_until=timezone.now() + timedelta(days=3))
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.inbound("sms")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until, conversation.unread_count) == ("open", None, 1)
    assert entries(conversation) == [("woke", "Woke from snooze: the customer wrote")]
    pushed = [event for message in inbox_listener() for event in message["events"]]
    assert [(e["type"], e["payload"]["message"]["kind"]) for e in pushed] == [("message.created", "activity"), ("message.created", "text")]
    assert {e["payload"]["conversation"]["status"] for e in pushed} == {"open"}


def test_a_resolved_conversation_reopens_and_says_so(webhooks):
    conversation = thread_with("resolved")
    webhooks.inbound("sms")
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert entries(conversation) == [("status", "Reopened: the customer wrote")]


@pytest.mark.parametrize("status", ["open", "pending"])
def test_an_open_or_pending_conversation_gets_no_entry(webhooks, status):
    conversation = thread_with(status)
    webhooks.inbound("sms")
    conversation.refresh_from_db()
    assert conversation.status == status and entries(conversation) == []


def test_one_update_statement_records_the_message_and_wakes_the_thread(webhooks):
    conversation = thread_with("snoozed", snoozed_until=timezone.now() + timedelta(days=3))
    webhooks.inbound("sms", apply=False)
    with CaptureQueriesContext(connection) as queries:
        receipts_apply_all()
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(f'UPDATE "{Conversation._meta.db_table}"')]
    assert len(updates) == 1 and "snoozed_until = NULL" in updates[0]
    conversation.refresh_from_db()
    assert conversation.status == "open"


@pytest.mark.postgres
@pytest.mark.parametrize("read, row, entry", [
    ("snoozed", "open", []),  # woken by the chore after this transaction read it: no second entry
    ("open", "snoozed", [("woke", "Woke from snooze: the customer wrote")]),  # snoozed after the read
])
def test_the_entry_follows_the_status_the_update_replaced_not_an_earlier_read(read, row, entry):
    conversation = thread_with(row, snoozed_until=timezone.now() + timedelta(days=1) if row == "snoozed" else None)
    stale = Conversation.objects.get(pk=conversation.pk)
    stale.status = read
    conversation_record_message(conversation=stale, message=MessageFactory(conversation=conversation), inbound=True)
    assert stale.status == "open" and entries(conversation) == entry
