"""POST /api/v1/conversations/{id}/notes/: private notes in the thread, never sent to the customer."""

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from conversations.models import Conversation, InboxEvent, Message, OutboundJob, SendAttempt
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageFactory
from conversations.tests.outbound_support import closed_conversation, drain, open_conversation

pytestmark = pytest.mark.django_db


def notes_url(conversation) -> str:
    return f"/api/v1/conversations/{conversation.pk}/notes/"


def test_a_note_is_created_with_its_author_and_joins_the_thread(agent_client, agent):
    conversation = open_conversation()
    MessageFactory(conversation=conversation, text="Where is my parcel?")
    response = agent_client.post(notes_url(conversation), {"text": "Courier says Tuesday"}, format="json")
    assert response.status_code == 201
    note = response.json()
    assert (note["kind"], note["direction"], note["status"], note["text"]) == ("note", "internal", "", "Courier says Tuesday")
    assert note["author"] == {"id": agent.pk, "name": "Alice"}
    assert note["conversation_id"] == conversation.pk
    thread = agent_client.get(f"/api/v1/conversations/{conversation.pk}/messages/").json()["results"]
    assert [(row["kind"], row["author"]) for row in thread] == [("text", None), ("note", {"id": agent.pk, "name": "Alice"})]


def test_a_note_is_pushed_to_the_inbox_as_a_new_thread_entry(agent_client, django_capture_on_commit_callbacks):
    conversation = open_conversation()
    with django_capture_on_commit_callbacks(execute=True):
        note_id = agent_client.post(notes_url(conversation), {"text": "VIP, be quick"}, format="json").json()["id"]
    event = InboxEvent.objects.get(type="message.created")
    assert event.data["message"]["id"] == note_id and event.data["message"]["kind"] == "note"


def test_a_note_is_never_sent_and_never_counts_as_a_reply(agent_client, fake_plivo):
    conversation = open_conversation(unread_count=3)
    customer = MessageFactory(conversation=conversation, text="Hello?")
    Conversation.objects.filter(pk=conversation.pk).update(last_message=customer, last_message_at=customer.created_at)
    assert agent_client.post(notes_url(conversation), {"text": "Looking into it"}, format="json").status_code == 201
    drain()
    assert fake_plivo.sends() == []
    assert not OutboundJob.objects.exists() and not SendAttempt.objects.exists()
    conversation.refresh_from_db()
    assert (conversation.last_message_id, conversation.unread_count) == (customer.pk, 3)
    listed = agent_client.get("/api/v1/conversations/").json()["results"]
    assert [row["last_message"]["id"] for row in listed] == [customer.pk]


def test_a_note_cannot_be_retried_into_a_send(agent_client, fake_plivo):
    note_id = agent_client.post(notes_url(open_conversation()), {"text": "internal"}, format="json").json()["id"]
    response = agent_client.post(f"/api/v1/messages/{note_id}/retry/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_retryable"
    assert fake_plivo.sends() == [] and not OutboundJob.objects.exists()


@pytest.mark.parametrize("conversation_for", [
    closed_conversation,  # WhatsApp's 24-hour window has closed
    lambda: ConversationFactory(channel="sms", contact=ContactFactory(sms_opted_out_at=timezone.now())),
], ids=["whatsapp_window_closed", "sms_opted_out"])
def test_channel_rules_do_not_apply_to_notes(agent_client, fake_plivo, conversation_for):
    conversation = conversation_for()
    response = agent_client.post(notes_url(conversation), {"text": "Customer asked us to stop; ask billing"}, format="json")
    assert response.status_code == 201
    drain()
    assert fake_plivo.sends() == []


@pytest.mark.parametrize("body, code", [
    ({}, "required"),
    ({"text": ""}, "blank"),
    ({"text": "   \n "}, "blank"),
    ({"text": None}, "null"),
    ({"text": ["a list"]}, "invalid"),
    ({"text": "x" * 10_001}, "max_length"),
])
def test_bad_notes_are_refused_naming_the_text_field(agent_client, body, code):
    response = agent_client.post(notes_url(open_conversation()), body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "text" and response.json()["error"]["code"] == code
    assert not Message.objects.filter(kind="note").exists()


def test_a_note_in_an_unknown_conversation_is_404(agent_client):
    response = agent_client.post("/api/v1/conversations/999999/notes/", {"text": "hi"}, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_anonymous_callers_are_asked_to_authenticate(api_client):
    conversation = ConversationFactory()
    response = api_client.post(notes_url(conversation), {"text": "hi"}, format="json")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Token")
    assert not Message.objects.exists()


def test_a_signed_in_non_agent_is_refused(api_client, outsider):
    api_client.force_authenticate(outsider)
    response = api_client.post(notes_url(ConversationFactory()), {"text": "hi"}, format="json")
    assert response.status_code == 403 and not Message.objects.exists()


def test_an_agent_token_can_add_a_note(api_client, agent):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=agent).key}")
    assert api_client.post(notes_url(ConversationFactory()), {"text": "from a script"}, format="json").status_code == 201


def test_a_browser_session_needs_the_csrf_token(agent):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(agent)
    response = browser.post(notes_url(ConversationFactory()), {"text": "hi"}, content_type="application/json")
    assert response.status_code == 403 and not Message.objects.exists()


def test_markup_in_a_note_is_stored_and_returned_as_written(agent_client):
    attack = '<img src=x onerror="window.__xss=1"> @<script>alert(1)</script>'
    note = agent_client.post(notes_url(open_conversation()), {"text": attack}, format="json").json()
    assert note["text"] == attack and note["payload"] == {}


def test_the_service_refuses_an_overlong_note_as_a_bad_request(agent):
    from conversations.services.thread_entries import NOTE_MAX_LENGTH, note_add
    from messaging_site.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        note_add(conversation=ConversationFactory(), author=agent, text="x" * (NOTE_MAX_LENGTH + 1))
    assert (refused.value.status, refused.value.field, refused.value.code) == (400, "text", "too_long")


def test_mentioning_an_unknown_name_or_a_non_agent_is_fine_and_notifies_nobody(agent_client, outsider):
    from conversations.models import Notification

    response = agent_client.post(notes_url(open_conversation()), {"text": "@nobody and @mallory, see this"}, format="json")
    assert response.status_code == 201 and response.json()["payload"] == {}
    assert not Notification.objects.exists()


def test_a_repeated_note_with_its_idempotency_key_is_added_once(agent_client, agent, other_agent):
    from conversations.models import Notification

    conversation = open_conversation()
    body = {"text": "@bob please call them back"}

    first = agent_client.post(notes_url(conversation), body, format="json", HTTP_IDEMPOTENCY_KEY="note-1")
    again = agent_client.post(notes_url(conversation), body, format="json", HTTP_IDEMPOTENCY_KEY="note-1")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert Message.objects.filter(kind="note").count() == 1
    assert Notification.objects.filter(recipient=other_agent).count() == 1


def test_an_idempotency_key_reused_for_another_note_is_refused(agent_client):
    conversation = open_conversation()
    agent_client.post(notes_url(conversation), {"text": "first"}, format="json", HTTP_IDEMPOTENCY_KEY="note-1")

    response = agent_client.post(notes_url(conversation), {"text": "second"}, format="json", HTTP_IDEMPOTENCY_KEY="note-1")

    assert response.status_code == 409
    assert response.json()["error"]["field"] == "Idempotency-Key"
    assert list(Message.objects.filter(kind="note").values_list("text", flat=True)) == ["first"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_of_one_note_store_one(agent):
    from conversations.services.thread_entries import note_add
    from conversations.tests.support import at_once

    conversation = open_conversation()
    notes = at_once(lambda: note_add(conversation=conversation, author=agent, text="once", idempotency_key="same-click"))
    assert len({note.pk for note in notes}) == 1
    assert Message.objects.filter(kind="note").count() == 1
