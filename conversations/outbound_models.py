"""The outbound queue's tables: one `OutboundJob` per outbound message (the queue workers claim
from), the shared rate-limit buckets, and each request made to Plivo. The code that drives them
is `conversations/outbound/`; `models.py` re-exports these models.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

class OutboundJob(models.Model):
    """The outbox entry for one outbound message: the one queue send workers claim from.

    Written in the same transaction as its message. A worker claims due jobs (highest priority
    first) with a lease; a bulk job no worker claimed yet may be withdrawn (never sent); a lease that expires (worker killed) is judged by the recovery sweep.
    An accepted send keeps a `report_due_at` until a delivery report settles it: past that,
    Parley asks Plivo what became of the message.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        IN_FLIGHT = "in_flight", "Being sent"
        ACCEPTED = "accepted", "Accepted by Plivo"
        UNCONFIRMED = "unconfirmed", "May have been sent; awaiting a report"
        FAILED = "failed", "Failed"
        # Taken back before any worker claimed it (its campaign was paused or stopped): never sent.
        WITHDRAWN = "withdrawn", "Withdrawn before sending"

    class Priority(models.IntegerChoices):
        # Lower goes first: an agent waiting on a reply beats a campaign's backlog.
        REPLY = 0, "Agent reply"
        BULK = 10, "Bulk (campaigns)"

    message = models.OneToOneField("conversations.Message", on_delete=models.CASCADE, related_name="outbound_job")
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
            # What the reports leave out (a paused campaign's messages were never sent).
            models.Index(fields=["message"], condition=Q(state="withdrawn"), name="outbound_job_withdrawn"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=["pending", "in_flight", "accepted", "unconfirmed", "failed", "withdrawn"]),
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

    message = models.ForeignKey("conversations.Message", on_delete=models.CASCADE, related_name="send_attempts")
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
