"""Files Parley keeps: attachments agents upload, and the media customers send (downloaded from
Plivo in the background). Both live in Django's default storage and are only ever served to
agents through the authenticated media view, never from a public URL.

Defined here to keep `models.py` to the messaging core; `models.py` re-exports `MediaFile`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def media_upload_path(instance, filename: str) -> str:
    # The name the agent gave stays in `name`; the stored name is ours (no path tricks).
    return f"media/{timezone.now():%Y/%m}/{filename}"


class MediaFile(models.Model):
    """One stored file: an agent's attachment (sent with Plivo's Media API) or one inbound
    media item of a customer's message (`source_url` is where Plivo keeps it)."""

    class Direction(models.TextChoices):
        OUTBOUND = "outbound", "Uploaded by an agent"
        INBOUND = "inbound", "Sent by the customer"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be downloaded"
        DOWNLOADING = "downloading", "Downloading"
        STORED = "stored", "Stored"
        FAILED = "failed", "Could not be downloaded"

    direction = models.CharField(max_length=16, choices=Direction.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.STORED)
    file = models.FileField(upload_to=media_upload_path, max_length=300, blank=True)
    name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="media_uploads"
    )
    # Set when the attachment is sent (outbound) or as the inbound message is stored.
    message = models.ForeignKey("conversations.Message", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="media_files")
    position = models.PositiveSmallIntegerField(default=0)  # its index in Message.media
    # Plivo's Media API id once uploaded: a retried send reuses it instead of uploading again.
    plivo_media_id = models.CharField(max_length=64, blank=True)
    # Inbound: where Plivo keeps the file, and the download's progress.
    source_url = models.URLField(max_length=2000, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Pending: when the next try is due; downloading: when its claim expires.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(direction__in=["outbound", "inbound"]), name="media_direction_valid"),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "downloading", "stored", "failed"]), name="media_state_valid"),
            # What is stored has a file; an agent's upload is stored from the start.
            models.CheckConstraint(condition=~Q(state="stored") | ~Q(file=""), name="media_stored_has_file"),
            models.CheckConstraint(condition=Q(direction="inbound") | Q(state="stored"), name="media_upload_is_stored"),
            models.CheckConstraint(condition=Q(direction="outbound") | ~Q(source_url=""), name="media_inbound_has_source"),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(state__in=["pending", "downloading"]),
                         name="media_download_due"),
        ]

    def __str__(self):
        return f"{self.direction} media #{self.pk} ({self.content_type or 'unknown type'})"

    @property
    def url(self) -> str:
        """Where an agent's browser loads it (the authenticated view)."""
        return f"/inbox/media/{self.pk}/"

    def as_media_item(self) -> dict:
        """Its entry in `Message.media`, as the thread shows it."""
        item = {"url": self.url if self.state == self.State.STORED else "", "content_type": self.content_type,
                "attachment_id": self.pk, "name": self.name, "size": self.size}
        if self.direction == self.Direction.INBOUND:
            item["state"] = self.state
        return item
