from django.contrib import admin

from webhooks.models import SignatureFamilyTally


@admin.register(SignatureFamilyTally)
class SignatureFamilyTallyAdmin(admin.ModelAdmin):
    list_display = ["endpoint", "family", "count", "first_seen_at", "last_seen_at"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False
