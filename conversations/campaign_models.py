"""Campaigns: one template (WhatsApp) or text (SMS) sent to many recipients through the outbound
engine. Defined here to keep `models.py` to the messaging core; `models.py` re-exports them.

A recipient's stored `status` is its dispatch state (pending, skipped, queued); once queued its
result follows its `message` (sent, delivered, read, failed) and `replied_at`, derived when read
(`conversations.campaigns.results`), so delivery reports need no second write.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

CAMPAIGN_CHANNELS = ("whatsapp", "sms")


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=16, choices=[("whatsapp", "WhatsApp"), ("sms", "SMS")])
    # WhatsApp: an approved template (by name and language); SMS: `text` with {{1}}, {{2}}... placeholders.
    template_name = models.CharField(max_length=512, blank=True)
    template_language = models.CharField(max_length=16, blank=True)
    text = models.TextField(blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    # The creator's cap in messages per second; None: as fast as the account and sender allow.
    rate_per_second = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    failure_reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The dispatcher's pacing: the earliest moment the next recipient may be queued.
    next_dispatch_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=CAMPAIGN_CHANNELS), name="campaign_channel_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "scheduled", "sending", "paused", "stopped", "completed", "failed"]),
                name="campaign_status_valid",
            ),
            # Template-only on WhatsApp (the window is closed for most recipients); text on SMS.
            models.CheckConstraint(
                condition=(Q(channel="whatsapp") & ~Q(template_name="") & ~Q(template_language="") & Q(text=""))
                | (Q(channel="sms") & ~Q(text="") & Q(template_name="")),
                name="campaign_content_matches_channel",
            ),
            models.CheckConstraint(condition=Q(rate_per_second__isnull=True) | Q(rate_per_second__gt=0),
                                   name="campaign_rate_positive"),
            models.CheckConstraint(condition=Q(status="scheduled", scheduled_at__isnull=False) | ~Q(status="scheduled"),
                                   name="campaign_scheduled_has_time"),
        ]
        indexes = [models.Index(fields=["status"], condition=Q(status__in=["scheduled", "sending"]), name="campaign_active")]

    def __str__(self):
        return self.name


class CampaignRecipient(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SKIPPED = "skipped", "Skipped"
        QUEUED = "queued", "Queued"

    class SkipReason(models.TextChoices):
        OPTED_OUT = "opted_out", "Opted out"
        INVALID_NUMBER = "invalid_number", "Invalid number"
        DUPLICATE = "duplicate", "Duplicate in this campaign"
        ALREADY_RECEIVED = "already_received", "Already received this campaign"
        NO_OPT_IN = "no_opt_in", "No recorded opt-in"
        INVALID_PARAMETERS = "invalid_parameters", "Parameters do not fit the message"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    # E.164 once valid; an invalid number is kept as given, for the skipped-row report.
    phone = models.CharField(max_length=64)
    parameters = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(max_length=32, choices=SkipReason.choices, blank=True)
    skip_detail = models.CharField(max_length=300, blank=True)
    # The one message sent to this recipient: set in the transaction that queued it, unique.
    message = models.OneToOneField("Message", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="campaign_recipient")
    # Quiet hours: not queued before this (the recipient's morning).
    not_before = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Each number once per campaign: duplicates and invalid rows are kept only as skipped.
            models.UniqueConstraint(fields=["campaign", "phone"], condition=~Q(skip_reason__in=["duplicate", "invalid_number"]),
                                    name="campaign_recipient_phone_once"),
            models.CheckConstraint(condition=Q(status__in=["pending", "skipped", "queued"]), name="campaign_recipient_status_valid"),
            models.CheckConstraint(condition=(Q(status="skipped") & ~Q(skip_reason="")) | (~Q(status="skipped") & Q(skip_reason="")),
                                   name="campaign_recipient_skip_has_reason"),
            models.CheckConstraint(condition=Q(status="queued", queued_at__isnull=False) | (~Q(status="queued") & Q(message__isnull=True)),
                                   name="campaign_recipient_message_only_when_queued"),
        ]
        indexes = [
            # The dispatcher's claim: a campaign's pending recipients in order.
            models.Index(fields=["campaign", "id"], condition=Q(status="pending"), name="campaign_recipient_pending"),
            models.Index(fields=["campaign", "status"], name="campaign_recipient_status"),
        ]

    def __str__(self):
        return f"{self.phone} in campaign #{self.campaign_id}"
