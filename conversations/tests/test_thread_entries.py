"""Notes and activity entries: internal thread rows that agents see and customers never do."""

import pytest
from django.db import IntegrityError, transaction

from conversations.models import InboxEvent, Message
from conversations.services.thread_entries import activity_record, note_add
from conversations.tests.factories import ConversationFactory, MessageFactory
from messaging_site.errors import ApplicationError

pytestmark = pytest.mark.django_db


def test_a_note_joins_the_thread_without_touching_the_preview_or_unread_count(agent, agent_client, django_capture_on_commit_callbacks):
    conversation = ConversationFactory(unread_count=2)
    customer = MessageFactory(conversation=conversation, text="Where is my parcel?")
    type(conversation).objects.filter(pk=conversation.pk).update(last_message=customer)
    with django_capture_on_commit_callbacks(execute=True):
        note = note_add(conversation=conversation, author=agent, text="  Courier says Tuesday  ")
    assert (note.direction, note.kind, note.status, note.text) == ("internal", "note", "", "Courier says Tuesday")
    conversation.refresh_from_db()
    assert conversation.last_message_id == customer.pk and conversation.unread_count == 2
    assert InboxEvent.objects.filter(type="message.created").latest("id").data["message"]["id"] == note.pk
    thread = agent_client.get(f"/api/v1/conversations/{conversation.pk}/messages/").json()["results"]
    assert [row["kind"] for row in thread] == ["text", "note"]


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_note_is_refused(agent, text):
    with pytest.raises(ApplicationError) as refused:
        note_add(conversation=ConversationFactory(), author=agent, text=text)
    assert refused.value.field == "text" and not Message.objects.exists()


def test_an_activity_entry_records_what_happened_for_programs_and_people(agent):
    entry = activity_record(
        conversation=ConversationFactory(), actor=agent, action="assigned", text="Alice assigned this to Bob",
        details={"assignee_id": 7},
    )
    assert entry.kind == "activity" and entry.structured == {"activity": {"action": "assigned", "assignee_id": 7}}


@pytest.mark.parametrize("fields", [
    {"direction": "internal", "kind": "note", "status": "sent"},  # an internal row with a delivery status
    {"direction": "inbound", "kind": "note", "status": "received"},  # a "note" from the customer
    {"direction": "internal", "kind": "text", "status": ""},  # an internal row that could be sent
    {"direction": "outbound", "kind": "text", "status": ""},  # an outbound row without a status
])
def test_the_database_refuses_rows_that_mix_internal_and_customer_facing(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(conversation=ConversationFactory(), text="x", **fields)
