"""How inbox objects look on the wire: the REST API, inbox events and the inbox page all use
these output serializers, so a message is described the same way everywhere."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from conversations.models import Contact, Conversation, Message, MessageStatusEvent, MessageTemplate


class AgentSerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "name"]

    def get_name(self, user) -> str:
        return user.get_full_name() or user.username


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = [
            "id",
            "phone",
            "display_name",
            "sms_opted_out_at",
            "sms_opt_out_reason",
            "whatsapp_opted_out_at",
            "whatsapp_opt_out_reason",
            "help_requested_at",
        ]
        read_only_fields = fields


class MessagePreviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "direction", "kind", "text", "status", "created_at"]
        read_only_fields = fields


class ConversationSerializer(serializers.ModelSerializer):
    """Select `contact`, `assignee` and `last_message` with the queryset (no N+1)."""

    contact = ContactSerializer(read_only=True)
    assignee = AgentSerializer(read_only=True)
    last_message = MessagePreviewSerializer(read_only=True)
    window_expires_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "channel",
            "status",
            "contact",
            "assignee",
            "last_message",
            "last_message_at",
            "last_inbound_at",
            "window_expires_at",
            "unread_count",
            "updated_at",
        ]
        read_only_fields = fields


class ReplyToSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "direction", "kind", "text"]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    """Select `sent_by` and `reply_to` with the queryset (no N+1)."""

    conversation_id = serializers.IntegerField(read_only=True)
    sent_by = AgentSerializer(read_only=True)
    reply_to = ReplyToSerializer(read_only=True)
    unconfirmed = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation_id",
            "direction",
            "kind",
            "text",
            "media",
            "payload",
            "reply_to",
            "status",
            "error_code",
            "error_message",
            "unconfirmed",
            "sent_by",
            "plivo_message_uuid",
            "idempotency_key",
            "created_at",
            "updated_at",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
        ]
        read_only_fields = fields

    def get_unconfirmed(self, message) -> bool:
        return message.unconfirmed_since is not None


class MessageStatusEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageStatusEvent
        fields = ["status", "sequence", "error_code", "applied", "received_at"]
        read_only_fields = fields


class MessageTemplateSerializer(serializers.ModelSerializer):
    parameter_slots = serializers.SerializerMethodField()

    class Meta:
        model = MessageTemplate
        fields = [
            "id",
            "name",
            "language",
            "category",
            "status",
            "header_type",
            "header_text",
            "body",
            "footer",
            "buttons",
            "parameter_slots",
        ]
        read_only_fields = fields

    def get_parameter_slots(self, template) -> dict:
        return template.parameter_slots()
