"""How inbox objects look on the wire: the REST API, inbox events and the inbox page all use
these output serializers, so a message is described the same way everywhere."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conversations.models import (
    CannedReply,
    Contact,
    Conversation,
    Label,
    Message,
    MessageStatusEvent,
    MessageTemplate,
    Notification,
)
from conversations.selectors.labels import conversation_labels
from conversations.plivo_errors import RETRY_REASONS


_DATETIME = serializers.DateTimeField()


def _retry_reason(message) -> str:
    return RETRY_REASONS.get(message.error_code, "") if message.next_attempt_at else ""


def _iso(value):
    """A datetime exactly as DRF's DateTimeField writes it (None stays None)."""
    return None if value is None else _DATETIME.to_representation(value)


class AgentSerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "name"]

    def get_name(self, user) -> str:
        return user.get_full_name() or user.username


class AuthorSerializer(AgentSerializer):
    """Who wrote a message or note, as agents read it."""

    class Meta(AgentSerializer.Meta):
        fields = ["id", "name"]


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
    # The id alone: the inbox names the sender from its agents list ("Bob: …"), so the list
    # query needs no join to the sender.
    sent_by_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Message
        fields = ["id", "direction", "kind", "text", "status", "sent_by_id", "created_at"]
        read_only_fields = fields


class LabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["name", "colour"]
        read_only_fields = fields


class ConversationSerializer(serializers.ModelSerializer):
    """Select `contact`, `assignee` and `last_message` with the queryset, and its labels with
    `selectors.labels.with_label_summaries` (no N+1)."""

    labels = serializers.SerializerMethodField()
    contact = ContactSerializer(read_only=True)
    assignee = AgentSerializer(read_only=True)
    last_message = MessagePreviewSerializer(read_only=True)
    window_expires_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def to_representation(self, conversation) -> dict:
        # Written out by hand: this runs for every row of the inbox list and for every webhook's
        # event, and DRF's field-by-field walk cost more than the query. The declared fields
        # above stay the contract (schema); a test checks both give the same dict.
        contact = conversation.contact
        assignee = conversation.assignee
        last = conversation.last_message
        return {
            "id": conversation.id,
            "channel": conversation.channel,
            "status": conversation.status,
            "labels": conversation_labels(conversation),
            "contact": {
                "id": contact.id,
                "phone": contact.phone,
                "display_name": contact.display_name,
                "sms_opted_out_at": _iso(contact.sms_opted_out_at),
                "sms_opt_out_reason": contact.sms_opt_out_reason,
                "whatsapp_opted_out_at": _iso(contact.whatsapp_opted_out_at),
                "whatsapp_opt_out_reason": contact.whatsapp_opt_out_reason,
                "help_requested_at": _iso(contact.help_requested_at),
            },
            "assignee": None
            if assignee is None
            else {"id": assignee.id, "username": assignee.username, "name": assignee.get_full_name() or assignee.username},
            "last_message": None
            if last is None
            else {
                "id": last.id,
                "direction": last.direction,
                "kind": last.kind,
                "text": last.text,
                "status": last.status,
                "sent_by_id": last.sent_by_id,
                "created_at": _iso(last.created_at),
            },
            "last_message_at": _iso(conversation.last_message_at),
            "last_inbound_at": _iso(conversation.last_inbound_at),
            "window_expires_at": _iso(conversation.window_expires_at),
            "unread_count": conversation.unread_count,
            "snoozed_until": _iso(conversation.snoozed_until),
            "updated_at": _iso(conversation.updated_at),
        }

    class Meta:
        model = Conversation
        fields = [
            "id",
            "channel",
            "status",
            "labels",
            "contact",
            "assignee",
            "last_message",
            "last_message_at",
            "last_inbound_at",
            "window_expires_at",
            "unread_count",
            "snoozed_until",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(LabelSerializer(many=True))
    def get_labels(self, conversation) -> list[dict]:
        return conversation_labels(conversation)


class ReplyToSerializer(serializers.ModelSerializer):
    sent_by_id = serializers.IntegerField(read_only=True, allow_null=True)  # as in MessagePreviewSerializer

    class Meta:
        model = Message
        fields = ["id", "direction", "kind", "text", "sent_by_id"]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    """Select `sent_by` and `reply_to` with the queryset (no N+1)."""

    conversation_id = serializers.IntegerField(read_only=True)
    sent_by = AgentSerializer(read_only=True)
    author = AuthorSerializer(source="sent_by", read_only=True, allow_null=True,
                              help_text="The agent who wrote it (a note's author); null for the customer or Parley.")
    reply_to = ReplyToSerializer(read_only=True)
    payload = serializers.JSONField(source="structured", read_only=True)
    unconfirmed = serializers.SerializerMethodField()
    retry_reason = serializers.SerializerMethodField(
        help_text='While an automatic retry waits (`next_attempt_at`): why, in a few words ("Plivo busy").')

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
            "next_attempt_at",
            "retry_reason",
            "sent_by",
            "author",
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

    def get_retry_reason(self, message) -> str:
        return _retry_reason(message)

    def to_representation(self, message) -> dict:
        # Written out by hand like ConversationSerializer's: every webhook's event runs it. A
        # test checks it equals DRF's walk over the declared fields, which subclasses keep.
        if type(self) is not MessageSerializer:
            return super().to_representation(message)
        sent_by, reply_to = message.sent_by, message.reply_to
        return {
            "id": message.id,
            "conversation_id": message.conversation_id,
            "direction": message.direction,
            "kind": message.kind,
            "text": message.text,
            "media": message.media,
            "payload": message.structured,
            "reply_to": None
            if reply_to is None
            else {"id": reply_to.id, "direction": reply_to.direction, "kind": reply_to.kind, "text": reply_to.text,
                  "sent_by_id": reply_to.sent_by_id},
            "status": message.status,
            "error_code": message.error_code,
            "error_message": message.error_message,
            "unconfirmed": message.unconfirmed_since is not None,
            "next_attempt_at": _iso(message.next_attempt_at),
            "retry_reason": _retry_reason(message),
            "sent_by": None
            if sent_by is None
            else {"id": sent_by.id, "username": sent_by.username, "name": sent_by.get_full_name() or sent_by.username},
            "author": None if sent_by is None else {"id": sent_by.id, "name": sent_by.get_full_name() or sent_by.username},
            "plivo_message_uuid": message.plivo_message_uuid,
            "idempotency_key": message.idempotency_key,
            "created_at": _iso(message.created_at),
            "updated_at": _iso(message.updated_at),
            "sent_at": _iso(message.sent_at),
            "delivered_at": _iso(message.delivered_at),
            "read_at": _iso(message.read_at),
            "failed_at": _iso(message.failed_at),
        }


class MessageStatusEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageStatusEvent
        fields = ["status", "sequence", "error_code", "applied", "received_at", "occurred_at"]
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


NOTIFICATION_EXCERPT_LENGTH = 200


class ContactRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "phone", "display_name"]
        read_only_fields = fields


class ConversationRefSerializer(serializers.ModelSerializer):
    contact = ContactRefSerializer(read_only=True)

    class Meta:
        model = Conversation
        fields = ["id", "channel", "contact"]
        read_only_fields = fields


class NotifiedMessageSerializer(serializers.ModelSerializer):
    excerpt = serializers.SerializerMethodField(help_text=f"The first {NOTIFICATION_EXCERPT_LENGTH} characters or so.")

    class Meta:
        model = Message
        fields = ["id", "kind", "excerpt"]
        read_only_fields = fields

    def get_excerpt(self, message) -> str:
        text = message.text
        if len(text) > NOTIFICATION_EXCERPT_LENGTH:
            text = text[: NOTIFICATION_EXCERPT_LENGTH - 1].rstrip() + "…"
        return text


class NotificationSerializer(serializers.ModelSerializer):
    """Select `actor`, `conversation__contact` and `message` with the queryset (no N+1)."""

    actor = AuthorSerializer(read_only=True, allow_null=True, help_text="Who mentioned you; null if since deleted.")
    conversation = ConversationRefSerializer(read_only=True)
    message = NotifiedMessageSerializer(read_only=True, help_text="The note you were mentioned in.")

    class Meta:
        model = Notification
        fields = ["id", "kind", "actor", "conversation", "message", "created_at", "read_at"]
        read_only_fields = fields


class CannedReplySerializer(serializers.ModelSerializer):
    filled_text = serializers.SerializerMethodField(
        help_text="`text` with its placeholders filled for `conversation_id`'s contact and you (null without it)."
    )

    class Meta:
        model = CannedReply
        fields = ["id", "shortcut", "title", "text", "filled_text"]
        read_only_fields = fields

    def get_filled_text(self, reply) -> str | None:
        conversation, agent = self.context.get("conversation"), self.context.get("agent")
        if conversation is None or agent is None:
            return None
        return reply.fill(contact=conversation.contact, agent=agent)
