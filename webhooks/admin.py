from django.contrib import admin
from django.utils import timezone

from webhooks.models import SignatureFamilyTally, WebhookReceipt


@admin.register(SignatureFamilyTally)
class SignatureFamilyTallyAdmin(admin.ModelAdmin):
    list_display = ["endpoint", "family", "count", "first_seen_at", "last_seen_at"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False


class ReceiptStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("waiting", "Waiting to be applied"), ("failing", "Failing (see last error)"), ("applied", "Applied")]

    def queryset(self, request, queryset):
        if self.value() == "waiting":
            return queryset.pending()
        if self.value() == "failing":
            return queryset.failing()
        if self.value() == "applied":
            return queryset.filter(applied_at__isnull=False)
        return queryset


@admin.register(WebhookReceipt)
class WebhookReceiptAdmin(admin.ModelAdmin):
    """Every callback Plivo delivered, as received. Read-only: what Plivo signed is evidence."""

    list_display = ["id", "kind", "dedupe_key", "received_at", "applied_at", "attempts", "next_attempt_at"]
    list_filter = [ReceiptStateFilter, "kind"]
    search_fields = ["dedupe_key"]
    readonly_fields = [field.name for field in WebhookReceipt._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry the selected failing receipts now", permissions=["view"])
    def retry_now(self, request, queryset):
        count = queryset.pending().update(next_attempt_at=timezone.now())
        self.message_user(request, f"{count} receipt(s) will be retried by the next webhook worker pass.")
