"""Inbound messages through the webhook: stored once, threaded, counted, announced once."""

import pytest
from django.utils import timezone

from conversations import events
from conversations.models import Contact, Conversation, InboxEvent, Message
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageFactory
from webhooks.tests.conftest import MESSAGE_PATH, load_fixture

pytestmark = pytest.mark.django_db


def only_message():
    return Message.objects.select_related("conversation__contact").get()


class TestStoring:
    def test_sms_is_stored_in_a_new_thread_for_a_new_contact(self, webhooks):
        response = webhooks.inbound("sms")
        assert response.status_code == 200 and response.content == b""
        message = only_message()
        assert (message.direction, message.status, message.kind) == ("inbound", "received", "text")
        assert message.text == "Hi, is my order #4521 on its way?"
        assert message.plivo_message_uuid == "2d55a8de-7c5b-11ee-a2a4-0242ac110004"
        conversation = message.conversation
        assert conversation.contact.phone == "+14155550123" and conversation.channel == "sms"
        assert conversation.last_message_id == message.pk and conversation.unread_count == 1
        assert conversation.last_inbound_at == message.created_at == conversation.last_message_at

    @pytest.mark.parametrize("fixture, kind, channel", [
        ("sms", "text", "sms"),
        ("mms", "media", "sms"),
        ("whatsapp_text", "text", "whatsapp"),
        ("whatsapp_media", "media", "whatsapp"),
        ("whatsapp_button", "button_reply", "whatsapp"),
        ("whatsapp_button_form", "button_reply", "whatsapp"),
        ("whatsapp_list_reply", "list_reply", "whatsapp"),
        ("whatsapp_reply_context", "text", "whatsapp"),
        ("whatsapp_location", "location", "whatsapp"),
        ("whatsapp_unknown", "unsupported", "whatsapp"),
    ])
    def test_every_captured_kind_is_stored_and_visible(self, webhooks, fixture, kind, channel):
        assert webhooks.inbound(fixture).status_code == 200
        message = only_message()
        assert (message.kind, message.conversation.channel) == (kind, channel)
        assert message.plivo_message_uuid == load_fixture(fixture)["params"]["MessageUUID"]
        assert InboxEvent.objects.filter(type="message.created").count() == 1

    def test_mms_media_list_is_stored(self, webhooks):
        webhooks.inbound("mms")
        assert [item["content_type"] for item in only_message().media] == ["image/jpeg", "image/png"]

    def test_unsupported_message_keeps_its_raw_payload(self, webhooks):
        webhooks.inbound("whatsapp_unknown")
        assert only_message().structured["raw"]["ContentType"] == "unknown"

    def test_reply_context_links_the_quoted_message_we_know(self, webhooks):
        ours = MessageFactory(direction="outbound", status="delivered", plivo_message_uuid="e5f1a3b2-7c5c-11ee-b962-0242ac120002")
        webhooks.inbound("whatsapp_reply_context")
        reply = Message.objects.get(direction="inbound")
        assert reply.reply_to_id == ours.pk
        assert reply.reply_to_plivo_uuid == "e5f1a3b2-7c5c-11ee-b962-0242ac120002"

    def test_reply_context_we_do_not_know_is_kept_as_the_uuid(self, webhooks):
        webhooks.inbound("whatsapp_reply_context")
        message = only_message()
        assert message.reply_to is None and message.reply_to_plivo_uuid == "e5f1a3b2-7c5c-11ee-b962-0242ac120002"

    def test_whatsapp_profile_name_names_a_new_contact(self, webhooks):
        webhooks.inbound("whatsapp_text")
        assert Contact.objects.get().display_name == "Dana Whitfield"

    def test_whatsapp_profile_name_does_not_replace_a_name_an_agent_gave(self, webhooks):
        ContactFactory(phone="+14155550123", display_name="Dana (VIP)")
        webhooks.inbound("whatsapp_text")
        assert Contact.objects.get().display_name == "Dana (VIP)"

    def test_existing_thread_is_reused_and_a_resolved_one_reopens(self, webhooks):
        conversation = ConversationFactory(contact=ContactFactory(phone="+14155550123"), channel="sms", status="resolved",
                                           unread_count=2, last_inbound_at=None)
        webhooks.inbound("sms")
        conversation.refresh_from_db()
        assert Conversation.objects.count() == 1
        assert conversation.status == "open" and conversation.unread_count == 3
        assert conversation.last_inbound_at is not None

    def test_same_number_on_whatsapp_and_sms_is_one_contact_two_threads(self, webhooks):
        webhooks.inbound("sms")
        webhooks.inbound("whatsapp_text")
        assert Contact.objects.count() == 1
        assert sorted(Conversation.objects.values_list("channel", flat=True)) == ["sms", "whatsapp"]


class TestDuplicates:
    def test_plivo_retry_of_the_same_message_is_stored_once_and_announced_once(self, webhooks):
        first, second, third = (webhooks.inbound("whatsapp_text") for _ in range(3))
        assert [first.status_code, second.status_code, third.status_code] == [200, 200, 200]
        assert second.content == b""
        assert Message.objects.count() == 1
        assert Conversation.objects.get().unread_count == 1
        assert InboxEvent.objects.filter(type="message.created").count() == 1

    def test_retry_with_a_different_encoding_is_still_the_same_message(self, webhooks):
        data = load_fixture("whatsapp_text")
        webhooks.post(MESSAGE_PATH, data["params"], encoding="form")
        webhooks.post(MESSAGE_PATH, data["params"], encoding="json")
        assert Message.objects.count() == 1


class TestEvents:
    def test_new_message_is_published_once_and_only_after_commit(
        self, webhooks, monkeypatch, django_capture_on_commit_callbacks
    ):
        pushes = []
        monkeypatch.setattr(events, "group_send", lambda group, message: pushes.append(message))
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            webhooks.inbound("sms")
        assert callbacks and pushes == []  # waiting for the commit
        for callback in callbacks:  # the commit
            callback()
        assert [[e["type"] for e in push["events"]] for push in pushes] == [["message.created"]]
        event = InboxEvent.objects.get()
        assert event.type == "message.created"
        assert event.data["message"]["plivo_message_uuid"] == "2d55a8de-7c5b-11ee-a2a4-0242ac110004"
        assert event.data["conversation"]["unread_count"] == 1
        assert event.data["conversation"]["contact"]["phone"] == "+14155550123"

        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            webhooks.inbound("sms")
        assert callbacks == [] and InboxEvent.objects.count() == 1

    def test_the_push_reaches_the_inbox_group(self, webhooks, inbox_listener, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.inbound("whatsapp_text")
        pushed = [event for item in inbox_listener() for event in item["events"]]
        assert [event["type"] for event in pushed] == ["message.created"]
        assert pushed[0]["payload"]["message"]["text"] == "Hello! Can I change my delivery address?"
        assert pushed[0]["cursor"] == InboxEvent.objects.get().pk


class TestRefused:
    @pytest.mark.parametrize("field", ["MessageUUID", "From", "To"])
    def test_signed_payload_without_a_required_field_is_refused_and_nothing_stored(self, webhooks, field):
        response = webhooks.inbound("sms", **{field: None})
        assert response.status_code == 400
        assert response.json()["error"]["field"] == field
        assert field in response.json()["error"]["message"]
        assert Message.objects.count() == Contact.objects.count() == InboxEvent.objects.count() == 0

    def test_signed_invalid_json_is_refused(self, client):
        from webhooks.signing import sign_v3
        from webhooks.tests.conftest import ACCOUNT_TOKEN, PUBLIC_BASE_URL
        headers = sign_v3(url=PUBLIC_BASE_URL + MESSAGE_PATH, params={}, auth_token=ACCOUNT_TOKEN)
        response = client.post(MESSAGE_PATH, data="{not json", content_type="application/json", headers=headers)
        assert response.status_code == 400
        assert response.json()["error"]["message"] == "The body is not valid JSON."
        assert Message.objects.count() == 0


class TestKeywords:
    @pytest.mark.parametrize("text", ["STOP", "stop", " Stop! ", "STOPALL", "stop all", "END", "quit.", "Cancel",
                                      "UNSUBSCRIBE", "revoke", "OPT OUT", "opt-out", "Opt out!!", "\u201cSTOP\u201d"])
    def test_opt_out_keyword_opts_the_contact_out_of_that_channel(self, webhooks, text):
        webhooks.inbound("sms", Text=text)
        contact = Contact.objects.get()
        assert contact.sms_opted_out_at is not None and contact.whatsapp_opted_out_at is None
        assert text.strip() in contact.sms_opt_out_reason
        assert only_message().text == text  # the message itself is still stored and shown
        assert InboxEvent.objects.filter(type="contact.updated").count() == 1

    @pytest.mark.parametrize("text", ["stop it!", "please stop", "STOP STOP", "unsubscribe me", "stopp", "ending soon"])
    def test_keyword_inside_a_longer_message_does_not_opt_out(self, webhooks, text):
        webhooks.inbound("sms", Text=text)
        assert Contact.objects.get().sms_opted_out_at is None

    def test_plivo_optout_intent_opts_out_even_with_other_words(self, webhooks):
        webhooks.inbound("sms", Text="no more texts thanks", MessageIntent="optout")
        assert Contact.objects.get().sms_opted_out_at is not None

    def test_whatsapp_stop_opts_out_of_whatsapp_only(self, webhooks):
        webhooks.inbound("whatsapp_text", Body="Stop")
        contact = Contact.objects.get()
        assert contact.whatsapp_opted_out_at is not None and contact.sms_opted_out_at is None

    @pytest.mark.parametrize("text", ["START", "unstop", "Yes", "resume!"])
    def test_opt_in_keyword_opts_back_in(self, webhooks, text):
        ContactFactory(phone="+14155550123", sms_opted_out_at=timezone.now(), sms_opt_out_reason="STOP")
        webhooks.inbound("sms", Text=text)
        contact = Contact.objects.get()
        assert contact.sms_opted_out_at is None and contact.sms_opt_out_reason == ""
        assert InboxEvent.objects.filter(type="contact.updated").count() == 1

    @pytest.mark.parametrize("text", ["HELP", "help?", "Info"])
    def test_help_is_flagged_for_the_agent(self, webhooks, text):
        webhooks.inbound("sms", Text=text)
        contact = Contact.objects.get()
        assert contact.help_requested_at is not None and contact.sms_opted_out_at is None
        assert InboxEvent.objects.filter(type="contact.updated").count() == 1

    def test_duplicate_stop_does_not_announce_twice(self, webhooks):
        webhooks.inbound("sms", Text="STOP")
        webhooks.inbound("sms", Text="STOP")
        assert InboxEvent.objects.filter(type="contact.updated").count() == 1
