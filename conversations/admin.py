from urllib.parse import quote

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html, format_html_join

from conversations.privacy.admin import ConsentRecordInline, ContactPrivacyAdminMixin, erase_contacts, export_contacts
from conversations.privacy.audit import audit_record
from conversations.reports import admin as reports_admin  # noqa: F401 (registers the report settings)
from conversations.campaigns import admin as campaigns_admin  # noqa: F401 (registers campaigns and their recipients)
from conversations.models import (
    CannedReply,
    Contact,
    Conversation,
    Label,
    MediaFile,
    Message,
    MessageStatusEvent,
    MessageTemplate,
    SendAttempt,
)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "category", "status", "header_type", "updated_at"]
    list_filter = ["status", "category", "language", "header_type"]
    search_fields = ["name", "body"]
    readonly_fields = ["preview", "parameter_slots", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "language", "category", "status"]}),
        ("Content", {"fields": ["header_type", "header_text", "body", "footer", "buttons"]}),
        ("Preview", {"fields": ["preview", "parameter_slots"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def save_model(self, request, obj, form, change):
        before = MessageTemplate.objects.filter(pk=obj.pk).values_list("status", flat=True).first() if change else None
        super().save_model(request, obj, form, change)
        if not change:
            action, details = "template.created", {"name": obj.name, "language": obj.language}
        elif before != obj.status:
            action, details = "template.status_changed", {"from": before, "to": obj.status}
        else:
            action, details = "template.changed", {"fields": sorted(form.changed_data)}
        audit_record(actor=request.user, action=action, target=obj, details=details, request=request)

    @admin.display(description="Preview (with sample parameters)")
    def preview(self, template):
        if not template.pk:
            return "Save the template to see its preview."
        slots = template.parameter_slots()
        sample = {
            "header": [f"<header {n}>" for n in range(1, slots["header"] + 1)],
            "body": [f"<{n}>" for n in range(1, slots["body"] + 1)],
            "buttons": {str(b["index"]): ["<suffix>"] for b in slots["buttons"] if b["count"]},
        }
        rendered = template.render(sample)
        buttons = format_html_join("", '<span class="parley-template-button">{}</span> ', ((b["text"],) for b in rendered["buttons"]))
        return format_html('<div class="parley-template-preview"><pre>{}</pre>{}</div>', rendered["text"], buttons)

    @admin.display(description="Parameters each component takes")
    def parameter_slots(self, template):
        return template.parameter_slots() if template.pk else "-"


@admin.register(Contact)
class ContactAdmin(ContactPrivacyAdminMixin, admin.ModelAdmin):
    list_display = ["phone", "display_name", "sms_opted_out_at", "whatsapp_opted_out_at", "erased_at", "created_at"]
    list_filter = [("sms_opted_out_at", admin.EmptyFieldListFilter), ("whatsapp_opted_out_at", admin.EmptyFieldListFilter),
                   ("erased_at", admin.EmptyFieldListFilter)]
    search_fields = ["phone", "display_name"]
    # Consent changes only through the inbox or the API, which record how, by whom and why.
    readonly_fields = ["sms_opted_out_at", "sms_opt_out_reason", "whatsapp_opted_out_at", "whatsapp_opt_out_reason",
                       "created_at", "updated_at", "help_requested_at", "erased_at"]
    inlines = [ConsentRecordInline]
    actions = [export_contacts, erase_contacts]


class ReadOnlyInline(admin.TabularInline):
    """History shown on its parent's page: every field read-only, nothing added or deleted."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ["created_at", "direction", "kind", "text", "status", "error_code", "sent_by"]
    show_change_link = True
    ordering = ["-created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sent_by")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["contact", "channel", "status", "assignee", "unread_count", "last_message_at"]
    list_filter = ["channel", "status", ("assignee", admin.RelatedOnlyFieldListFilter), "labels"]
    search_fields = ["contact__phone", "contact__display_name"]
    list_select_related = ["contact", "assignee"]
    # Labels change from the inbox, where each change is recorded in the thread.
    readonly_fields = ["contact", "channel", "labels", "last_message", "last_message_at", "last_inbound_at", "unread_count", "created_at", "updated_at"]
    inlines = [MessageInline]


class MessageStatusEventInline(ReadOnlyInline):
    model = MessageStatusEvent
    fields = ["received_at", "status", "sequence", "error_code", "applied", "raw_payload"]


class SendAttemptInline(ReadOnlyInline):
    model = SendAttempt
    fields = ["number", "started_at", "finished_at", "outcome", "http_status", "detail", "requested_by"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Messages are history: readable here, never edited."""

    list_display = ["id", "conversation", "direction", "kind", "status", "created_at"]
    list_filter = ["direction", "kind", "status", "conversation__channel"]
    search_fields = ["plivo_message_uuid", "text", "conversation__contact__phone"]
    list_select_related = ["conversation__contact"]
    inlines = [SendAttemptInline, MessageStatusEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Message._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LabelForm(forms.ModelForm):
    class Meta:
        model = Label
        fields = ["name", "colour"]
        widgets = {"colour": forms.TextInput(attrs={"type": "color"})}


def colour_swatch(colour: str) -> str:
    """A small square of `colour` (#rrggbb, database-checked) as an image: the CSP allows no
    inline style, and data: images are allowed."""
    svg = f"<svg xmlns='http://www.w3.org/2000/svg' width='16' height='16'><rect width='16' height='16' rx='3' fill='{colour}'/></svg>"
    return format_html(
        '<img class="parley-swatch" src="data:image/svg+xml,{}" width="16" height="16" alt=""> {}', quote(svg), colour
    )


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    form = LabelForm
    list_display = ["name", "swatch", "conversation_count", "updated_at"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(conversation_count=Count("conversations"))

    @admin.display(description="Colour", ordering="colour")
    def swatch(self, label):
        return colour_swatch(label.colour)

    @admin.display(description="Conversations", ordering="conversation_count")
    def conversation_count(self, label):
        return label.conversation_count


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["shortcut", "title", "updated_at"]
    search_fields = ["shortcut", "title", "text"]


admin.site.site_header = "Parley administration"
admin.site.site_title = "Parley admin"


@admin.register(MediaFile)
class MediaFileAdmin(admin.ModelAdmin):
    """Read-only: what was uploaded and downloaded, and why a download gave up."""

    list_display = ["id", "direction", "state", "content_type", "size", "message", "attempts", "last_error", "created_at"]
    list_filter = ["direction", "state", "content_type"]
    search_fields = ["name", "last_error"]
    readonly_fields = [field.name for field in MediaFile._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
