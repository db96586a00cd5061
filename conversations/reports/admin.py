from django.contrib import admin, messages

from conversations.privacy.audit import audit_record
from conversations.reports.models import ReportSettings
from conversations.reports.rollups import report_rebuild


@admin.register(ReportSettings)
class ReportSettingsAdmin(admin.ModelAdmin):
    """The one settings row. Saving it recounts the reports in the new zone and hours, which on
    millions of messages takes a minute or two (as `manage.py reports_rebuild` does)."""

    fields = ["time_zone", "business_hours", "updated_at"]
    readonly_fields = ["updated_at"]

    def has_add_permission(self, request):
        return not ReportSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(actor=request.user, action="reports.settings_changed", target=obj,
                     details={"fields": sorted(form.changed_data)}, request=request)
        if {"time_zone", "business_hours"} & set(form.changed_data):
            written = report_rebuild()
            messages.info(request, f"Reports recounted in {obj.time_zone}: {written['episodes']} episodes over "
                                   f"{written['days']} days.")
