"""The report's settings and rollups. Defined here to keep `conversations/models.py` to the
messaging core; `conversations.models` re-exports them.

The rollups are derived data: `manage.py reports_rebuild` recreates them from the raw rows, and
`rollups.report_refresh()` (a worker chore) brings them up to date with what changed.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from conversations.reports.hours import WEEKDAYS, schedule_check, zone_check

DEFAULT_BUSINESS_HOURS = {day: ["09:00-17:00"] for day in WEEKDAYS[:5]}


def default_business_hours():
    return {day: list(hours) for day, hours in DEFAULT_BUSINESS_HOURS.items()}


class ReportSettings(models.Model):
    """One row (pk 1): the team's time zone (report days and the heat map are in it) and its
    weekly business hours (for durations counted in business hours only)."""

    time_zone = models.CharField(
        max_length=64, default="UTC", help_text="An IANA time zone such as Europe/Berlin or America/New_York."
    )
    business_hours = models.JSONField(
        default=default_business_hours,
        blank=True,
        help_text='Open hours per weekday in the team\'s time zone, e.g. {"mon": ["09:00-12:30", "13:30-17:00"], '
        '"sat": ["10:00-14:00"]}; a day left out is closed. "24:00" ends a day.',
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "report settings"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="report_settings_singleton")]

    def __str__(self):
        return f"Reports in {self.time_zone}"

    def clean(self):
        errors = {}
        try:
            zone_check(self.time_zone)
        except ValueError as exc:
            errors["time_zone"] = str(exc)
        try:
            schedule_check(self.business_hours)
        except ValueError as exc:
            errors["business_hours"] = str(exc)
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> "ReportSettings":
        found = cls.objects.filter(pk=1).first()
        return found or cls(pk=1, time_zone=settings.TIME_ZONE)


class ReportEpisode(models.Model):
    """One stretch of a conversation a customer waits on: from their first message (or the
    conversation's reopening) to the first agent reply and on to its resolution.

    `agent` is who gave the first reply, else the conversation's assignee. Days are in the team's
    time zone. Durations are seconds; the `business_` ones count business hours only."""

    conversation = models.ForeignKey("Conversation", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16)
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    opened_at = models.DateTimeField()
    opened_day = models.DateField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_response_seconds = models.FloatField(null=True, blank=True)
    first_response_business_seconds = models.FloatField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_day = models.DateField(null=True, blank=True)
    resolution_seconds = models.FloatField(null=True, blank=True)
    resolution_business_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["conversation", "opened_at"]
        indexes = [
            models.Index(fields=["conversation"], name="report_episode_conversation"),
            models.Index(fields=["opened_day", "agent"], name="report_episode_opened"),
            models.Index(fields=["resolved_day", "agent"], condition=Q(resolved_day__isnull=False),
                         name="report_episode_resolved"),
        ]

    def __str__(self):
        return f"episode of conversation #{self.conversation_id} from {self.opened_at:%Y-%m-%d %H:%M}"


class ReportDuration(models.Model):
    """One duration of an episode, as a row of its own so that a median or 90th percentile is
    one ordered index scan: first response (day: the episode's opening) or resolution (day: its
    resolution), on the clock or in business hours. `agent_id` 0: no agent; `labels`: the
    conversation's label ids now."""

    class Kind(models.IntegerChoices):
        FIRST_RESPONSE = 1, "First response"
        FIRST_RESPONSE_BUSINESS = 2, "First response (business hours)"
        RESOLUTION = 3, "Resolution"
        RESOLUTION_BUSINESS = 4, "Resolution (business hours)"

    id = models.BigAutoField(primary_key=True)
    conversation = models.ForeignKey("Conversation", on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.PositiveSmallIntegerField(choices=Kind.choices)
    seconds = models.FloatField()
    day = models.DateField()
    channel = models.CharField(max_length=16)
    agent_id = models.IntegerField()
    labels = models.JSONField(default=list)

    class Meta:
        indexes = [
            # Read in order (index only, PostgreSQL): the percentile's sort finds its input sorted.
            models.Index(fields=["kind", "seconds"], include=["day", "agent_id", "channel", "labels"],
                         name="report_duration_ordered"),
            models.Index(fields=["kind", "agent_id", "seconds"], include=["day", "channel", "labels"],
                         name="report_duration_by_agent"),
            # A short range: its few rows by day, then sorted.
            models.Index(fields=["kind", "day"], include=["seconds", "agent_id", "channel", "labels"],
                         name="report_duration_days"),
            models.Index(fields=["conversation"], name="report_duration_conversation"),
        ]
        constraints = [models.CheckConstraint(condition=Q(kind__in=[1, 2, 3, 4]), name="report_duration_kind_valid")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.seconds:.0f} s on {self.day}"


class ReportDurationCount(models.Model):
    """How many `ReportDuration` rows of one day × channel × agent × label × kind fall in each
    duration bucket (`percentiles.DURATION_BUCKETS`), so that a median is found by reading only
    the one bucket that holds it. `label_id` 0: all labels; kept with the day's `ReportDay` rows."""

    day = models.DateField()
    channel = models.CharField(max_length=16)
    agent_id = models.IntegerField()
    label_id = models.IntegerField()
    kind = models.PositiveSmallIntegerField(choices=ReportDuration.Kind.choices)
    bucket = models.PositiveSmallIntegerField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "channel", "agent_id", "label_id", "kind", "bucket"],
                                    name="report_duration_count_unique"),
        ]
        indexes = [
            models.Index(fields=["label_id", "kind", "day"], include=["channel", "agent_id", "bucket", "count"],
                         name="report_duration_count_range"),
        ]

    def __str__(self):
        return f"{self.day} kind {self.kind} bucket {self.bucket}: {self.count}"


NO_AGENT = 0  # `ReportDay.agent_id` of what no agent sent or holds
ALL_LABELS = 0  # `ReportDay.label_id` of the rows that count everything once


class ReportDay(models.Model):
    """The day's counts for one channel × agent × label, in the team's time zone.

    The `label_id` 0 rows count every message and episode once; a labelled row counts those of
    conversations (currently) carrying that label, so a filter by label reads its own rows.
    Agent: inbound messages count for the conversation's assignee, outbound ones for their
    sender, episodes for the episode's agent. Opt-outs are on the channel's rows with agent 0 and
    label 0 only (no agent or label applies to them)."""

    day = models.DateField()
    channel = models.CharField(max_length=16)
    agent_id = models.IntegerField(default=NO_AGENT)
    label_id = models.IntegerField(default=ALL_LABELS)
    conversations_opened = models.PositiveIntegerField(default=0)
    conversations_resolved = models.PositiveIntegerField(default=0)
    messages_received = models.PositiveIntegerField(default=0)
    messages_sent = models.PositiveIntegerField(default=0)
    messages_delivered = models.PositiveIntegerField(default=0)
    messages_read = models.PositiveIntegerField(default=0)
    messages_failed = models.PositiveIntegerField(default=0)
    opt_outs = models.PositiveIntegerField(default=0)
    # Inbound messages per local hour of the day (24 numbers), for the heat map.
    received_by_hour = models.JSONField(default=list)
    # Failed outbound messages per error code: {"30": 2, "": 1}.
    failures = models.JSONField(default=dict)

    class Meta:
        ordering = ["day", "channel", "agent_id", "label_id"]
        constraints = [
            models.UniqueConstraint(fields=["day", "channel", "agent_id", "label_id"], name="report_day_unique"),
        ]
        indexes = [models.Index(fields=["label_id", "day"], name="report_day_label")]

    def __str__(self):
        return f"{self.day} {self.channel} agent {self.agent_id} label {self.label_id}"


class ReportPending(models.Model):
    """A change the rollups have not taken in yet (append-only, so writers never wait on each
    other): a conversation whose episodes and days to recount (`at`: the changed message's time;
    None: all its days, e.g. after an assignment or label change), or with no conversation, the
    day of `at` (an opt-out)."""

    id = models.BigAutoField(primary_key=True)
    # No foreign key: a marker must survive its conversation's deletion, and costs no lookup.
    conversation_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"pending #{self.pk}: conversation {self.conversation_id} at {self.at}"
