"""Campaigns in the admin, for staff: the list with status and progress, a campaign's page (what
the server owns is read-only), its recipients in their own paginated, filtered list, and the
lifecycle as admin actions.

Every change goes through the same services as the API (`lifecycle` for start / pause /
resume / stop, `editing` for name, schedule and rate), so the same rules refuse the same
things and the same audit entries are written. Campaigns are created on the Campaigns page or
through the API (the CSV upload and its report live there), not here.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from conversations.campaign_models import Campaign, CampaignRecipient
from conversations.campaigns import editing, lifecycle, results
from conversations.campaigns.results import RECIPIENT_RESULT
from messaging_site.errors import ApplicationError

EDITABLE = list(editing.EDITABLE_FIELDS)
SERVER_OWNED = ["channel", "template_name", "template_language", "text", "status", "failure_reason", "counts",
                "recipients_link", "created_by", "created_at", "updated_at", "started_at", "finished_at", "next_dispatch_at"]


class StaffOnlyAdmin(admin.ModelAdmin):
    """Staff only, whatever model permissions a non-staff account might hold (the admin site
    already keeps non-staff out; this keeps the rule here too)."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff and super().has_change_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CampaignForm(forms.ModelForm):
    """Name, schedule and rate, checked by `editing` (the API's rules) before they are saved."""

    class Meta:
        model = Campaign
        fields = EDITABLE

    def clean(self):
        cleaned = super().clean()
        given = {field: cleaned.get(field) for field in self.changed_data if field in EDITABLE}
        if given and not self.errors:
            try:
                editing.campaign_changes_validate(campaign=Campaign.objects.get(pk=self.instance.pk), **given)
            except ApplicationError as exc:
                self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return cleaned


def _lifecycle_action(service, verb: str, description: str):
    def action(modeladmin, request, queryset):
        done = 0
        for campaign in queryset.order_by("id"):
            try:
                service(campaign=campaign, by=request.user)
                done += 1
            except ApplicationError as exc:
                modeladmin.message_user(request, f"{campaign.name}: {exc.message}", messages.WARNING)
        if done:
            modeladmin.message_user(request, f"{verb} {done} campaign(s).", messages.SUCCESS)

    action.__name__ = f"campaigns_{service.__name__.removeprefix('campaign_')}"
    return admin.action(description=description, permissions=["change"])(action)


start_campaigns = _lifecycle_action(lifecycle.campaign_start, "Started", "Start selected drafts (scheduled if their time is ahead)")
pause_campaigns = _lifecycle_action(lifecycle.campaign_pause, "Paused", "Pause selected sending campaigns")
resume_campaigns = _lifecycle_action(lifecycle.campaign_resume, "Resumed", "Resume selected paused campaigns")
stop_campaigns = _lifecycle_action(lifecycle.campaign_stop, "Stopped", "Stop selected campaigns for good (unsent recipients are never sent)")


@admin.register(Campaign)
class CampaignAdmin(StaffOnlyAdmin):
    form = CampaignForm
    list_display = ["name", "channel", "status", "progress", "recipient_counts", "created_by", "scheduled_at", "started_at",
                    "finished_at"]
    list_filter = ["status", "channel"]
    search_fields = ["name"]
    list_select_related = ["created_by"]
    list_per_page = 50
    actions = [start_campaigns, pause_campaigns, resume_campaigns, stop_campaigns]
    fieldsets = [
        (None, {"fields": ["name", "channel", "status", "failure_reason"]}),
        ("Message", {"fields": ["template_name", "template_language", "text"]}),
        ("Sending", {"fields": ["scheduled_at", "rate_per_second", "next_dispatch_at"],
                     "description": "Name, schedule and rate can be changed while the campaign is a draft or scheduled."}),
        ("Results", {"fields": ["counts", "recipients_link"]}),
        ("History", {"fields": ["created_by", "created_at", "updated_at", "started_at", "finished_at"]}),
    ]

    def get_queryset(self, request):
        # The list's figures in the same query: stored dispatch states, counted per campaign.
        return super().get_queryset(request).annotate(
            recipients_total=Count("recipients"),
            recipients_pending=Count("recipients", filter=Q(recipients__status=CampaignRecipient.Status.PENDING)),
            recipients_skipped=Count("recipients", filter=Q(recipients__status=CampaignRecipient.Status.SKIPPED)),
            recipients_queued=Count("recipients", filter=Q(recipients__status=CampaignRecipient.Status.QUEUED)),
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not editing.campaign_is_editable(obj):
            return [*EDITABLE, *SERVER_OWNED]
        return SERVER_OWNED

    def save_model(self, request, obj, form, change):
        given = {field: form.cleaned_data[field] for field in form.changed_data if field in EDITABLE}
        if given:
            try:
                editing.campaign_edit(campaign=obj, by=request.user, **given)
            except ApplicationError as exc:  # its state changed since the form was checked
                self.message_user(request, exc.message, messages.ERROR)
        obj.refresh_from_db()

    @admin.display(description="Progress")
    def progress(self, campaign):
        total = campaign.recipients_total
        return f"{round(100 * (total - campaign.recipients_pending) / total)}%" if total else "-"

    @admin.display(description="Queued / skipped / total")
    def recipient_counts(self, campaign):
        return f"{campaign.recipients_queued:,} / {campaign.recipients_skipped:,} / {campaign.recipients_total:,}"

    @admin.display(description="Counts")
    def counts(self, campaign):
        if not campaign.pk:
            return "-"
        summary = results.campaign_summary(campaign)
        rows = [(name, f"{value:,}") for name, value in summary["counts"].items()]
        rows += [(label, f"{round(100 * summary[key])}%") for label, key in
                 [("delivery rate", "delivery_rate"), ("read rate", "read_rate"), ("progress", "progress")]
                 if summary[key] is not None]
        if summary["estimated_finish_at"]:
            rows.append(("estimated finish", summary["estimated_finish_at"].strftime("%Y-%m-%d %H:%M UTC")))
        return format_html('<table class="parley-campaign-counts">{}</table>',
                           format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))

    @admin.display(description="Recipients")
    def recipients_link(self, campaign):
        if not campaign.pk:
            return "-"
        url = reverse("admin:conversations_campaignrecipient_changelist") + f"?campaign__id__exact={campaign.pk}"
        return format_html('<a href="{}">Recipients of this campaign</a>', url)


class ResultFilter(admin.SimpleListFilter):
    """By result as the API reports it (sent, delivered, read, failed, replied are derived)."""

    title = "result"
    parameter_name = "result"

    def lookups(self, request, model_admin):
        return [(result, result) for result in results.RESULTS]

    def queryset(self, request, queryset):
        return queryset.filter(result=self.value()) if self.value() in results.RESULTS else queryset


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(StaffOnlyAdmin):
    """Read-only, one page at a time: a campaign may have 100,000 recipients, so the list is
    reached from its campaign's page (filtered to it) and never counts the whole table."""

    list_display = ["phone", "campaign", "result", "skip_reason", "message_link", "not_before", "queued_at", "replied_at"]
    list_filter = [ResultFilter, "skip_reason"]
    search_fields = ["phone"]
    list_select_related = ["campaign", "message"]
    list_per_page = 100
    show_full_result_count = False
    ordering = ["campaign", "id"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(result=RECIPIENT_RESULT)

    def has_change_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in CampaignRecipient._meta.fields]

    @admin.display(description="Result", ordering="result")
    def result(self, recipient):
        return recipient.result

    @admin.display(description="Message")
    def message_link(self, recipient):
        if not recipient.message_id:
            return "-"
        url = reverse("admin:conversations_message_change", args=[recipient.message_id])
        return format_html('<a href="{}">#{}</a>', url, recipient.message_id)
