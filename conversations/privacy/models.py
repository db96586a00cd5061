"""The records privacy law asks for. Defined here to keep `models.py` to the messaging core;
`conversations.models` re-exports them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class AuditEntry(models.Model):
    """Who did what, to which object, when and from where. Append-only: the model refuses to
    save a second time or delete, the admin is read-only, and on PostgreSQL a trigger
    (migration 0009) makes the database refuse UPDATE and DELETE on the table."""

    id = models.BigAutoField(primary_key=True)
    # No database foreign key: deleting a user must neither cascade into nor update the log.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # The actor's username when it happened ("" for Parley itself or a customer).
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["actor", "created_at"], name="audit_actor_recent")]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit entries are append-only.")


class ConsentRecord(models.Model):
    """One opt-in or opt-out of a contact on a channel: the proof of consent (TCPA, CASL)."""

    class Method(models.TextChoices):
        KEYWORD = "keyword", "Customer keyword"
        INTENT = "intent", "Plivo MessageIntent"
        ERROR_200 = "error_200", "Plivo error 200 (opted out at the carrier)"
        AGENT = "agent", "An agent in the inbox"
        IMPORT = "import", "An import"
        API = "api", "The API"
        ERASURE = "erasure", "Suppressed number (erased contact)"

    contact = models.ForeignKey("Contact", on_delete=models.CASCADE, related_name="consent_records")
    channel = models.CharField(max_length=16)
    opted_in = models.BooleanField()
    method = models.CharField(max_length=16, choices=Method.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["contact", "channel", "created_at"], name="consent_contact_channel"),
            models.Index(fields=["created_at"], name="consent_created"),  # reports: opt-outs per day
        ]
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=["whatsapp", "sms"]), name="consent_channel_valid"),
            # An agent who opts a customer in must say why (the customer asked by phone, ...).
            models.CheckConstraint(condition=~Q(method="agent", opted_in=True, reason=""), name="agent_opt_in_has_reason"),
        ]

    def __str__(self):
        return f"{'opt-in' if self.opted_in else 'opt-out'} {self.channel} ({self.method})"


class SuppressedNumber(models.Model):
    """A number that opted out and was then erased: only a keyed hash (HMAC-SHA256) of it is
    kept, so it cannot be read back, yet a send to it is refused and a new message from it
    starts an opted-out contact."""

    channel = models.CharField(max_length=16)
    number_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["number_hash", "channel"], name="unique_suppressed_number")]

    def __str__(self):
        return f"{self.channel} {self.number_hash[:12]}…"
