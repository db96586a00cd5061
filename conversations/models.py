"""The inbox's core models: contacts, conversations, messages and their delivery history, templates,
the outbox and the event log.

Over 400 lines on purpose for now: five branches added models at once this session, so the split
into a models package (one module per model family, re-exported here) waits for the next change
to this file. Newer families already live apart: team_models.py (labels, canned replies) and privacy/.
"""

import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
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


TEMPLATE_NAME_REGEX = r"^[a-z0-9_]+$"
TEMPLATE_VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def template_variables(text: str) -> list[int]:
    return sorted({int(n) for n in TEMPLATE_VARIABLE.findall(text or "")})


def validate_numbered_variables(text: str, where: str) -> None:
    numbers = template_variables(text)
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        raise ValidationError(
            f"{where} variables must be numbered {{{{1}}}} to {{{{{len(numbers)}}}}} without gaps; found "
            + ", ".join(f"{{{{{n}}}}}" for n in numbers)
        )


class MessageTemplate(models.Model):
    """A WhatsApp message template as approved (or not) by Meta."""

    class Category(models.TextChoices):
        MARKETING = "MARKETING", "Marketing"
        UTILITY = "UTILITY", "Utility"
        AUTHENTICATION = "AUTHENTICATION", "Authentication"

    class Status(models.TextChoices):
        APPROVED = "APPROVED", "Approved"
        PENDING = "PENDING", "Pending"
        REJECTED = "REJECTED", "Rejected"
        PAUSED = "PAUSED", "Paused"
        DISABLED = "DISABLED", "Disabled"

    class HeaderType(models.TextChoices):
        NONE = "none", "None"
        TEXT = "text", "Text"
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"
        DOCUMENT = "document", "Document"

    name = models.CharField(
        max_length=512,
        validators=[RegexValidator(TEMPLATE_NAME_REGEX, "Use lowercase letters, digits and underscores only.")],
    )
    language = models.CharField(
        max_length=16,
        validators=[RegexValidator(r"^[a-z]{2,3}(_[A-Z]{2})?$", "A language code such as en or en_US.")],
    )
    category = models.CharField(max_length=16, choices=Category.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    header_type = models.CharField(max_length=16, choices=HeaderType.choices, default=HeaderType.NONE)
    header_text = models.CharField(max_length=60, blank=True)
    body = models.TextField(max_length=1024)
    footer = models.CharField(max_length=60, blank=True)
    # [{"type": "quick_reply", "text": "Yes"}, {"type": "url", "text": "Track", "url": "https://x/{{1}}"},
    #  {"type": "phone_number", "text": "Call us", "phone_number": "+1..."}]
    buttons = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["name", "language"], name="unique_template_name_language"),
            models.CheckConstraint(condition=Q(name__regex=TEMPLATE_NAME_REGEX), name="template_name_format"),
        ]

    def __str__(self):
        return f"{self.name} ({self.language})"

    def clean(self):
        errors = {}
        for field, label in (("header_text", "Header"), ("body", "Body")):
            try:
                validate_numbered_variables(getattr(self, field), label)
            except ValidationError as exc:
                errors[field] = exc.messages
        if self.header_type == self.HeaderType.TEXT and not self.header_text:
            errors["header_text"] = ["A text header needs its text."]
        if self.header_type != self.HeaderType.TEXT and self.header_text:
            errors["header_text"] = ["Header text is only used with a text header."]
        if TEMPLATE_VARIABLE.search(self.footer or ""):
            errors["footer"] = ["The footer cannot contain variables."]
        try:
            self._clean_buttons()
        except ValidationError as exc:
            errors["buttons"] = exc.messages
        if errors:
            raise ValidationError(errors)

    def _clean_buttons(self):
        if not isinstance(self.buttons, list):
            raise ValidationError("Buttons must be a list.")
        if len(self.buttons) > 10:
            raise ValidationError("WhatsApp allows at most 10 buttons.")
        for index, button in enumerate(self.buttons):
            if not isinstance(button, dict) or button.get("type") not in ("quick_reply", "url", "phone_number"):
                raise ValidationError(f"Button {index + 1}: type must be quick_reply, url or phone_number.")
            if not button.get("text"):
                raise ValidationError(f"Button {index + 1}: needs a text.")
            if button["type"] == "url":
                if not str(button.get("url", "")).startswith(("https://", "http://")):
                    raise ValidationError(f"Button {index + 1}: a url button needs an http(s) url.")
                if len(template_variables(button["url"])) > 1:
                    raise ValidationError(f"Button {index + 1}: a url takes at most one variable, {{{{1}}}}.")

    # --- parameters and preview -----------------------------------------------------------
    def parameter_slots(self) -> dict:
        """How many parameters each component takes: the shape a sender must fill."""
        header = 0
        if self.header_type == self.HeaderType.TEXT:
            header = len(template_variables(self.header_text))
        elif self.header_type != self.HeaderType.NONE:
            header = 1  # the media URL
        buttons = []
        for index, button in enumerate(self.buttons or []):
            if button.get("type") == "url" and template_variables(button.get("url", "")):
                buttons.append({"index": index, "sub_type": "url", "count": 1})
            elif button.get("type") == "quick_reply":
                buttons.append({"index": index, "sub_type": "quick_reply", "count": 0})
        return {"header": header, "body": len(template_variables(self.body)), "buttons": buttons}

    def render(self, parameters: dict | None = None) -> dict:
        """A preview: each component with `{{n}}` replaced by the given parameters.

        `parameters` = {"header": [...], "body": [...], "buttons": {"<index>": [...]}};
        a missing parameter is shown as its placeholder.
        """
        parameters = parameters or {}

        def fill(text, values):
            values = list(values or [])

            def replace(match):
                n = int(match.group(1))
                return str(values[n - 1]) if n <= len(values) and values[n - 1] not in (None, "") else match.group(0)

            return TEMPLATE_VARIABLE.sub(replace, text or "")

        header = None
        if self.header_type == self.HeaderType.TEXT:
            header = {"type": "text", "text": fill(self.header_text, parameters.get("header"))}
        elif self.header_type != self.HeaderType.NONE:
            media = (parameters.get("header") or [None])[0]
            header = {"type": self.header_type, "media": media}
        button_params = parameters.get("buttons") or {}
        buttons = []
        for index, button in enumerate(self.buttons or []):
            rendered = dict(button)
            if button.get("type") == "url":
                rendered["url"] = fill(button.get("url"), button_params.get(str(index)) or button_params.get(index))
            buttons.append(rendered)
        body = fill(self.body, parameters.get("body"))
        text_parts = [header["text"]] if header and header.get("type") == "text" else []
        text_parts.append(body)
        if self.footer:
            text_parts.append(self.footer)
        return {
            "header": header,
            "body": body,
            "footer": self.footer,
            "buttons": buttons,
            "text": "\n\n".join(part for part in text_parts if part),
        }


class OutboundJob(models.Model):
    """The outbox entry for one outbound message: the one queue send workers claim from.

    Written in the same transaction as its message. A worker claims due jobs (highest priority
    first) with a lease; a lease that expires (worker killed) is judged by the recovery sweep.
    An accepted send keeps a `report_due_at` until a delivery report settles it: past that,
    Parley asks Plivo what became of the message.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        IN_FLIGHT = "in_flight", "Being sent"
        ACCEPTED = "accepted", "Accepted by Plivo"
        UNCONFIRMED = "unconfirmed", "May have been sent; awaiting a report"
        FAILED = "failed", "Failed"

    class Priority(models.IntegerChoices):
        # Lower goes first: an agent waiting on a reply beats a campaign's backlog.
        REPLY = 0, "Agent reply"
        BULK = 10, "Bulk (campaigns)"

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="outbound_job")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.REPLY)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    # Accepted (or unconfirmed) and not yet settled by a delivery report: when to look it up.
    report_due_at = models.DateTimeField(null=True, blank=True)
    report_lookups = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # What workers claim: pending jobs in priority order, then oldest due first.
            models.Index(fields=["priority", "next_attempt_at", "id"], condition=Q(state="pending"), name="outbound_job_due"),
            # What the recovery sweep looks at; every job ever sent stays behind as accepted/failed.
            models.Index(fields=["state", "lease_expires_at"], condition=Q(state__in=["in_flight", "unconfirmed"]),
                         name="outbound_job_open"),
            models.Index(fields=["report_due_at"], condition=Q(report_due_at__isnull=False), name="outbound_job_report_due"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=["pending", "in_flight", "accepted", "unconfirmed", "failed"]),
                                   name="outbound_job_state_valid"),
        ]

    def __str__(self):
        return f"job for message #{self.message_id} ({self.state})"


class PlivoPacing(models.Model):
    """One rate-limit bucket shared by every worker process (PostgreSQL): the account's API
    limit ("account") or one sender number's MPS ("sender:+1415..."). See
    `conversations/outbound/pacing.py`."""

    key = models.CharField(max_length=40, primary_key=True)
    # The earliest moment the next request may go out (each request moves it one interval on).
    next_slot_at = models.DateTimeField()
    # After a 429: no request before this (Plivo's Retry-After).
    paused_until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.key


class SendAttempt(models.Model):
    """One request to Plivo's Message API (or the decision not to make one)."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        TRANSIENT_ERROR = "transient_error", "Temporary error (retried)"
        PERMANENT_ERROR = "permanent_error", "Permanent error"
        AMBIGUOUS = "ambiguous", "Unknown: may have been sent"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="send_attempts")
    number = models.PositiveIntegerField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["message", "number"]
        constraints = [models.UniqueConstraint(fields=["message", "number"], name="unique_attempt_number")]


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
