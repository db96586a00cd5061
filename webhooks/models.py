from django.db import models
from django.utils import timezone


class SignatureFamilyTally(models.Model):
    """How many accepted webhooks each signature header family carried, per endpoint.

    Plivo's messaging docs describe only V2 while its SDK and voice docs describe V3; this
    tells an operator which family real traffic uses (and when it last did).
    """

    endpoint = models.CharField(max_length=100)
    family = models.CharField(max_length=8)
    count = models.PositiveBigIntegerField(default=0)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["endpoint", "family"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "family"], name="one_tally_per_endpoint_family")]

    def __str__(self):
        return f"{self.endpoint} {self.family}: {self.count}"


class SignatureNonce(models.Model):
    """A nonce an accepted V2-signed webhook carried, with a digest of that request.

    V2 signs only the URL and the nonce, so whoever captures one header pair could attach
    any body to it. The unique nonce lets each pair be used for one request only: a repeat
    is accepted only with the very same method, path, query and fields (Plivo retrying the
    same callback), and collapses onto its receipt. Kept for WEBHOOK_V2_NONCE_RETENTION_DAYS,
    longer than Plivo retries.
    """

    nonce = models.CharField(max_length=128)
    request_digest = models.CharField(max_length=64, help_text="SHA-256 of the method, path, query and fields.")
    first_seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["nonce"], name="one_request_per_v2_nonce")]

    def __str__(self):
        return self.nonce


class WebhookReceiptQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(applied_at__isnull=True)

    def due(self, now=None):
        """Pending receipts a worker may apply now (failed ones wait out their backoff)."""
        now = now or timezone.now()
        return self.pending().filter(models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now))

    def failing(self):
        return self.pending().filter(attempts__gt=0)


class WebhookReceipt(models.Model):
    """A signed Plivo callback, committed before we answer 200 and applied by a webhook worker.

    The webhook view only checks, parses and stores this row (one INSERT), so Plivo's request
    is answered in milliseconds whatever the inbox is doing; the worker turns receipts into
    messages and status changes in batches. Retries of the same callback collapse onto one
    receipt; applying is idempotent as well, so a receipt applied twice changes nothing.
    """

    class Kind(models.TextChoices):
        MESSAGE = "message", "Inbound message"
        STATUS = "status", "Delivery report"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    # Inbound: the MessageUUID; report: MessageStatusEvent.make_dedupe_key(uuid, status, sequence).
    dedupe_key = models.CharField(max_length=160)
    params = models.JSONField(help_text="The signed fields exactly as Plivo posted them.")
    ref = models.CharField(max_length=32, blank=True, help_text="The status URL's ?ref= (our message id).")
    received_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Failed attempts to apply it.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    objects = WebhookReceiptQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["kind", "dedupe_key"], name="one_receipt_per_callback")]
        indexes = [
            models.Index(fields=["id"], condition=models.Q(applied_at__isnull=True), name="webhook_receipt_pending"),
            models.Index(fields=["applied_at"], condition=models.Q(applied_at__isnull=False), name="webhook_receipt_applied"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.dedupe_key}"
