"""The inbox's core models: contacts, conversations, messages and their delivery history, the
event log and agents' notifications.

Other families live in their own modules and are re-exported here, so `conversations.models` stays
the one place to import any model from: templates (template_models.py), the outbound queue
(outbound_models.py), labels and canned replies (team_models.py), media, campaigns, reports and
privacy.
"""

from datetime import timedelta

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from conversations.media_models import MediaFile  # noqa: F401 (defined there)
from conversations.privacy.models import AuditEntry, ConsentRecord, SuppressedNumber  # noqa: F401 (defined there)
from conversations.team_models import CannedReply, Label  # noqa: F401 (defined there, imported from here)
from conversations.reports.models import (  # noqa: F401 (defined there)
    ReportDay,
    ReportDuration,
    ReportDurationCount,
    ReportEpisode,
    ReportPending,
    ReportSettings,
)
from conversations.campaign_models import Campaign, CampaignRecipient  # noqa: F401 (defined there)
from conversations.outbound_models import OutboundJob, PlivoPacing, SendAttempt  # noqa: F401 (defined there)
from conversations.template_models import (  # noqa: F401 (defined there)
    TEMPLATE_NAME_REGEX,
    MessageTemplate,
    template_variables,
    validate_numbered_variables,
)

E164_REGEX = r"^\+[1-9][0-9]{6,14}$"
WHATSAPP_WINDOW = timedelta(hours=24)


class Channel(models.TextChoices):
    WHATSAPP = "whatsapp", "WhatsApp"
    SMS = "sms", "SMS"


class Contact(models.Model):
    """A customer, identified by one E.164 phone number across channels."""

    phone = models.CharField(
        max_length=16,
        unique=True,
        validators=[RegexValidator(E164_REGEX, "Phone numbers are stored in E.164 (+14155550100).")],
    )
    display_name = models.CharField(max_length=200, blank=True)
    sms_opted_out_at = models.DateTimeField(null=True, blank=True)
    sms_opt_out_reason = models.CharField(max_length=200, blank=True)
    whatsapp_opted_out_at = models.DateTimeField(null=True, blank=True)
    whatsapp_opt_out_reason = models.CharField(max_length=200, blank=True)
    help_requested_at = models.DateTimeField(null=True, blank=True)
    # Erased on request (privacy.erase): name and content gone, the phone a placeholder.
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["phone"]
        constraints = [
            models.CheckConstraint(condition=Q(phone__regex=E164_REGEX), name="contact_phone_is_e164"),
        ]

    def __str__(self):
        return f"{self.display_name} ({self.phone})" if self.display_name else self.phone

    def opted_out_at(self, channel: str):
        return getattr(self, f"{channel}_opted_out_at")

    def is_opted_out(self, channel: str) -> bool:
        return self.opted_out_at(channel) is not None


class Conversation(models.Model):
    """One thread per (contact, channel): every message with that customer on that channel."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        RESOLVED = "resolved", "Resolved"
        # Out of Open until `snoozed_until` or the customer's next message, whichever comes first.
        SNOOZED = "snoozed", "Snoozed"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    last_message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    labels = models.ManyToManyField("Label", blank=True, related_name="conversations")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [F("last_message_at").desc(nulls_last=True), "-id"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "channel"], name="one_conversation_per_contact_channel"),
            models.CheckConstraint(condition=Q(channel__in=Channel.values), name="conversation_channel_valid"),
            models.CheckConstraint(condition=Q(status__in=["open", "pending", "resolved", "snoozed"]), name="conversation_status_valid"),
            models.CheckConstraint(
                condition=Q(status="snoozed", snoozed_until__isnull=False) | (~Q(status="snoozed") & Q(snoozed_until__isnull=True)),
                name="conversation_snoozed_has_time",
            ),
        ]
        indexes = [
            # The inbox list: a status tab, optionally one assignee, newest activity first.
            models.Index(F("status"), F("last_message_at").desc(), F("id").desc(), name="conv_status_recent"),
            models.Index(F("assignee"), F("status"), F("last_message_at").desc(), F("id").desc(), name="conv_assignee_recent"),
            models.Index(F("last_message_at").desc(), F("id").desc(), name="conv_recent"),
            # The wake-up chore: snoozes that are due.
            models.Index(fields=["snoozed_until"], condition=Q(status="snoozed"), name="conv_snooze_due"),
        ]

    def __str__(self):
        return f"{self.contact} on {self.get_channel_display()}"

    @property
    def window_expires_at(self):
        """When WhatsApp's 24-hour customer-service window closes (None: never opened / SMS)."""
        if self.channel != Channel.WHATSAPP or self.last_inbound_at is None:
            return None
        return self.last_inbound_at + WHATSAPP_WINDOW

    def window_is_open(self) -> bool:
        if self.channel != Channel.WHATSAPP:
            return True
        expires = self.window_expires_at
        return expires is not None and timezone.now() < expires


class MessageStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    FAILED = "failed", "Failed"
    UNDELIVERED = "undelivered", "Undelivered"
    REJECTED = "rejected", "Rejected"


FINAL_FAILURE_STATUSES = (MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.REJECTED)

# A message's status only moves to a higher rank. Failures are final: nothing outranks them.
STATUS_RANK = {
    MessageStatus.RECEIVED: 0,
    MessageStatus.QUEUED: 1,
    MessageStatus.SENDING: 2,
    MessageStatus.SENT: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.READ: 5,
    MessageStatus.FAILED: 9,
    MessageStatus.UNDELIVERED: 9,
    MessageStatus.REJECTED: 9,
}


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"
        # Only agents see it (notes, activity): never sent, never a reply, never exported to the customer.
        INTERNAL = "internal", "Internal"

    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        MEDIA = "media", "Media"
        TEMPLATE = "template", "Template"
        INTERACTIVE = "interactive", "Interactive"
        LOCATION = "location", "Location"
        BUTTON_REPLY = "button_reply", "Button reply"
        LIST_REPLY = "list_reply", "List reply"
        UNSUPPORTED = "unsupported", "Unsupported"
        NOTE = "note", "Private note"
        ACTIVITY = "activity", "Activity"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=16, choices=Direction.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TEXT)
    text = models.TextField(blank=True)
    # [{"url": "https://...", "content_type": "image/jpeg"}, ...]
    media = models.JSONField(default=list, blank=True)
    # The structured part as sent or received: {"template": {...}}, {"interactive": {...}},
    # {"location": {...}}, {"button": {...}}, or {"raw": {...}} for unsupported inbound types.
    # The REST API and inbox events call it "payload".
    structured = models.JSONField(default=dict, blank=True)
    plivo_message_uuid = models.CharField(max_length=64, null=True, blank=True)
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    # Plivo's Context.MessageUUID as received, kept even when we do not know that message.
    reply_to_plivo_uuid = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices, blank=True)  # "" for internal entries
    status_rank = models.GeneratedField(
        expression=Case(
            *[When(status=status, then=Value(rank)) for status, rank in STATUS_RANK.items()],
            default=Value(0),
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )
    # Plivo's callback Sequence of the report that set the current status.
    status_sequence = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    # Set when a send may or may not have reached Plivo; cleared by the first delivery report.
    unconfirmed_since = models.DateTimeField(null=True, blank=True)
    # While an automatic retry waits (Plivo busy or rate limiting): when it is due. The reason
    # is the error_code; agents see "Plivo busy, retrying in 30 s".
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="sent_messages"
    )
    # The sender's Idempotency-Key: a repeated request with it returns this message.
    idempotency_key = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # A tombstone: content erased (privacy.erase), the row kept so counts and reports stay right.
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plivo_message_uuid"],
                condition=Q(plivo_message_uuid__isnull=False),
                name="unique_plivo_message_uuid",
            ),
            models.UniqueConstraint(
                fields=["sent_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="unique_idempotency_key_per_sender",
            ),
            models.CheckConstraint(condition=~Q(plivo_message_uuid=""), name="plivo_uuid_null_not_blank"),
            models.CheckConstraint(
                condition=Q(direction__in=["inbound", "outbound", "internal"]), name="message_direction_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(direction="inbound", status="received")
                    | (Q(direction="outbound") & ~Q(status="received") & ~Q(status=""))
                    | Q(direction="internal", status="")
                ),
                name="message_status_matches_direction",
            ),
            # Internal entries are exactly the notes and activity entries.
            models.CheckConstraint(
                condition=(
                    Q(direction="internal", kind__in=["note", "activity"])
                    | (~Q(direction="internal") & ~Q(kind__in=["note", "activity"]))
                ),
                name="message_internal_kinds",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at", "id"], name="msg_thread"),
            # The reports' day recount: one day's messages.
            models.Index(fields=["created_at"], name="msg_created"),
            # The retention job's scan: the oldest messages not yet erased.
            models.Index(fields=["created_at"], condition=Q(erased_at__isnull=True), name="msg_unerased_by_age"),
        ]

    def __str__(self):
        return f"{self.direction} {self.kind} #{self.pk}"

    @property
    def is_outbound(self) -> bool:
        return self.direction == self.Direction.OUTBOUND

    @property
    def is_internal(self) -> bool:
        return self.direction == self.Direction.INTERNAL


class MessageStatusEvent(models.Model):
    """Append-only history of every delivery report Plivo sent for a message.

    A report that arrives before we know its message (no matching uuid, no ref) is kept with
    `message=None` and attached when the message's uuid is stored.
    """

    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="status_events")
    plivo_message_uuid = models.CharField(max_length=64)
    status = models.CharField(max_length=16)
    sequence = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    raw_payload = models.JSONField(default=dict)
    # Whether this report moved the message's status (False: late, duplicate or unmatched).
    applied = models.BooleanField(default=False)
    received_at = models.DateTimeField(default=timezone.now)
    # uuid:status:sequence — the same report retried by Plivo is stored once.
    dedupe_key = models.CharField(max_length=128, unique=True)
    # When it happened at Plivo (its DeliveryReportTime, SentTime or MessageTime), if given.
    occurred_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [
            models.Index(fields=["plivo_message_uuid"], name="status_event_uuid"),
            models.Index(fields=["message", "received_at"], name="status_event_message"),
        ]

    def __str__(self):
        return f"{self.plivo_message_uuid} {self.status}"

    @staticmethod
    def make_dedupe_key(plivo_message_uuid: str, status: str, sequence) -> str:
        return f"{plivo_message_uuid}:{status}:{'' if sequence is None else sequence}"


class InboxEvent(models.Model):
    """The log behind the live inbox: every change pushed to agents, with a monotonic cursor.

    The websocket is only a doorbell; a reconnecting page replays events after its cursor.
    """

    id = models.BigAutoField(primary_key=True)
    type = models.CharField(max_length=40)
    data = models.JSONField()  # the event's "payload" on the wire
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"#{self.id} {self.type}"

    def as_wire(self) -> dict:
        return {"cursor": self.id, "type": self.type, "payload": self.data}


class InboxEventPruning(models.Model):
    """One run of the event-log prune: events up to `pruned_through` are gone, so a page whose
    cursor is older must reload rather than replay (see `selectors.inbox_events_after`)."""

    pruned_through = models.BigIntegerField(db_index=True)
    deleted = models.PositiveIntegerField()
    pruned_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"pruned through #{self.pruned_through}"


class Notification(models.Model):
    """Something an agent should look at: for now, a colleague @mentioned them in a note."""

    class Kind(models.TextChoices):
        MENTION = "mention", "Mention"

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notifications")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="notifications")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # However often a note names an agent, they hear of it once.
            models.UniqueConstraint(fields=["recipient", "message", "kind"], name="one_notification_per_message"),
            models.CheckConstraint(condition=Q(kind__in=["mention"]), name="notification_kind_valid"),
        ]
        indexes = [
            models.Index(F("recipient"), F("created_at").desc(), F("id").desc(), name="notification_inbox"),
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"),
        ]

    def __str__(self):
        return f"{self.kind} for {self.recipient} (message #{self.message_id})"
