import pytest
from django.db import IntegrityError, transaction

from conversations.models import Message, MessageTemplate
from conversations.phone import InvalidPhoneNumber, normalize_phone
from conversations.services.contacts import contact_get_or_create
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db


class TestPhoneNumbers:
    @pytest.mark.parametrize(
        "written",
        ["+14155550123", "+1 415 555 0123", "14155550123", "(415) 555-0123", "415-555-0123", "001 415 555 0123"],
    )
    def test_any_common_format_is_stored_once_in_e164(self, written):
        first, created = contact_get_or_create(phone="+1 (415) 555-0123")
        again, created_again = contact_get_or_create(phone=written)
        assert created and not created_again
        assert again.pk == first.pk and again.phone == "+14155550123"

    def test_plivo_numbers_without_plus_are_read_as_international(self):
        assert normalize_phone("447700900123") == "+447700900123"

    @pytest.mark.parametrize("garbage", ["", "hello", "+1 234", "12"])
    def test_garbage_is_refused_with_a_reason(self, garbage):
        with pytest.raises(InvalidPhoneNumber) as error:
            normalize_phone(garbage)
        assert str(error.value)

    def test_database_refuses_a_number_that_is_not_e164(self):
        with pytest.raises(IntegrityError):
            ContactFactory(phone="(415) 555-0123")


class TestMessageConstraints:
    def test_duplicate_plivo_uuid_is_refused_by_the_database(self):
        message = MessageFactory(plivo_message_uuid="uuid-1")
        with pytest.raises(IntegrityError), transaction.atomic():
            # bulk_create skips model validation: only the database stands in the way
            Message.objects.bulk_create(
                [Message(conversation=message.conversation, direction="inbound", status="received", plivo_message_uuid="uuid-1")]
            )

    def test_many_messages_may_have_no_uuid_yet(self):
        conversation = ConversationFactory()
        MessageFactory.create_batch(3, conversation=conversation, direction="outbound", plivo_message_uuid=None)
        assert conversation.messages.count() == 3

    def test_inbound_message_cannot_carry_an_outbound_status(self):
        with pytest.raises(IntegrityError):
            MessageFactory(direction="inbound", status="delivered")

    def test_one_conversation_per_contact_and_channel(self):
        conversation = ConversationFactory(channel="sms")
        ConversationFactory(contact=conversation.contact, channel="whatsapp")
        with pytest.raises(IntegrityError):
            ConversationFactory(contact=conversation.contact, channel="sms")

    def test_status_rank_follows_status_in_the_database(self):
        message = MessageFactory(direction="outbound", status="delivered")
        message.refresh_from_db()
        assert message.status_rank == 4
        Message.objects.filter(pk=message.pk).update(status="failed")
        message.refresh_from_db()
        assert message.status_rank == 9


class TestTemplates:
    def test_parameter_slots_per_component(self):
        template = MessageTemplateFactory(
            header_type="text",
            header_text="Order {{1}}",
            body="Hi {{1}}, order {{2}} is {{3}}",
            buttons=[{"type": "url", "text": "Track", "url": "https://x.test/{{1}}"}, {"type": "quick_reply", "text": "OK"}],
        )
        assert template.parameter_slots() == {
            "header": 1,
            "body": 3,
            "buttons": [{"index": 0, "sub_type": "url", "count": 1}, {"index": 1, "sub_type": "quick_reply", "count": 0}],
        }

    def test_preview_fills_parameters_and_keeps_missing_placeholders(self):
        template = MessageTemplateFactory(body="Hi {{1}}, order {{2}} shipped.", footer="Shop")
        rendered = template.render({"body": ["Ana"]})
        assert rendered["body"] == "Hi Ana, order {{2}} shipped."
        assert rendered["text"] == "Hi Ana, order {{2}} shipped.\n\nShop"

    @pytest.mark.parametrize("body", ["Hi {{2}}", "Hi {{1}} and {{3}}"])
    def test_variables_must_be_numbered_without_gaps(self, body):
        template = MessageTemplate(name="bad_one", language="en_US", category="UTILITY", body=body)
        with pytest.raises(Exception) as error:
            template.full_clean()
        assert "without gaps" in str(error.value)

    def test_name_and_language_are_unique_together(self):
        MessageTemplateFactory(name="hello", language="en_US")
        MessageTemplateFactory(name="hello", language="pt_BR")
        with pytest.raises(IntegrityError):
            MessageTemplate.objects.create(name="hello", language="en_US", category="UTILITY", body="x")

    def test_database_refuses_a_bad_template_name(self):
        with pytest.raises(IntegrityError):
            MessageTemplate.objects.create(name="Hello World", language="en_US", category="UTILITY", body="x")


class TestConversationWireShape:
    def test_hand_written_conversation_row_equals_the_declared_fields(self):
        from datetime import timedelta

        from django.utils import timezone
        from rest_framework import serializers as drf

        from conversations.serializers import ConversationSerializer
        from conversations.tests.factories import UserFactory

        agent = UserFactory(username="rowcheck", first_name="Row", last_name="Check")
        conversation = ConversationFactory(assignee=agent, channel="whatsapp")
        message = MessageFactory(conversation=conversation, text="last words")
        conversation.last_message = message
        conversation.contact.sms_opted_out_at = timezone.now() - timedelta(days=1)
        conversation.contact.sms_opt_out_reason = 'Customer sent "STOP"'
        bare = ConversationFactory(assignee=None, last_inbound_at=None, channel="sms")
        for row in (conversation, bare):
            generic = drf.ModelSerializer.to_representation(ConversationSerializer(), row)
            assert ConversationSerializer(row).data == generic


class TestMessageWireShape:
    def test_hand_written_message_equals_the_declared_fields(self):
        from django.utils import timezone
        from rest_framework import serializers as drf

        from conversations.serializers import MessageSerializer
        from conversations.tests.factories import UserFactory

        agent = UserFactory(username="msgcheck", first_name="Msg", last_name="Check")
        conversation = ConversationFactory(channel="whatsapp")
        question = MessageFactory(conversation=conversation, text="which size?")
        answer = MessageFactory(
            conversation=conversation, direction="outbound", status="failed", sent_by=agent, reply_to=question,
            media=[{"url": "https://example.com/a.jpg", "content_type": "image/jpeg"}], structured={"button": {"text": "M"}},
            error_code="unconfirmed", error_message="may not have been sent", unconfirmed_since=timezone.now(),
            plivo_message_uuid="uuid-wire-shape", idempotency_key="key-1", sent_at=timezone.now(), failed_at=timezone.now(),
        )
        for message in (question, answer):
            generic = drf.ModelSerializer.to_representation(MessageSerializer(), message)
            assert MessageSerializer(message).data == generic
            assert set(generic) == set(MessageSerializer.Meta.fields)
