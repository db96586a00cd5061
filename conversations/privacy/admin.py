"""Admin for the privacy records: the audit log (read-only for everyone, superusers included),
consent history on the contact's page, and the contact's export and erase actions."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from conversations.privacy.erase import contact_erase
from conversations.privacy.export import contact_export
from conversations.privacy.models import AuditEntry, ConsentRecord, SuppressedNumber
from messaging_site.errors import ApplicationError


class AppendOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(AppendOnlyAdmin):
    list_display = ["created_at", "actor_name", "action", "object_type", "object_id", "ip_address"]
    list_filter = ["action", "object_type", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["actor_name", "action", "object_id", "ip_address"]
    date_hierarchy = "created_at"


@admin.register(SuppressedNumber)
class SuppressedNumberAdmin(AppendOnlyAdmin):
    list_display = ["number_hash", "channel", "created_at"]
    list_filter = ["channel"]


class ConsentRecordInline(admin.TabularInline):
    model = ConsentRecord
    extra = 0
    can_delete = False
    fields = ["created_at", "channel", "opted_in", "method", "by", "reason"]
    readonly_fields = fields
    ordering = ["-created_at"]

    def has_add_permission(self, request, obj=None):
        return False


class EraseForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}), help_text="Why these contacts are erased.")


def _json_download(body, filename: str) -> HttpResponse:
    response = HttpResponse(json.dumps(body, cls=DjangoJSONEncoder, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.action(description="Export selected contacts (JSON)")
def export_contacts(modeladmin, request, queryset):
    documents = [contact_export(contact=contact, by=request.user, include_internal=True, request=request) for contact in queryset]
    body = documents[0] if len(documents) == 1 else documents
    return _json_download(body, "contacts-export.json")


@admin.action(description="Erase selected contacts (final)")
def erase_contacts(modeladmin, request, queryset):
    form = EraseForm(request.POST if "reason" in request.POST else None)
    if form.is_bound and form.is_valid():
        erased = 0
        for contact in queryset:
            try:
                contact_erase(contact=contact, by=request.user, reason=form.cleaned_data["reason"], request=request)
                erased += 1
            except ApplicationError as exc:
                modeladmin.message_user(request, f"{contact}: {exc.message}", messages.WARNING)
        modeladmin.message_user(request, f"Erased {erased} contact(s).", messages.SUCCESS)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Erase contacts",
        "contacts": queryset,
        "form": form,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/conversations/contact/erase.html", context)


class ContactPrivacyAdminMixin:
    """Staff only: exports and erasures are for staff, like the API's. Besides the list actions,
    the contact's own page has Export and Erase buttons (`change_form.html`)."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_staff:
            actions.pop("export_contacts", None)
            actions.pop("erase_contacts", None)
        return actions

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        own = [
            path("<int:object_id>/export/", self.admin_site.admin_view(self.export_view), name="%s_%s_export" % info),
            path("<int:object_id>/erase/", self.admin_site.admin_view(self.erase_view), name="%s_%s_erase" % info),
        ]
        return own + super().get_urls()

    def _contact_or_404(self, request, object_id, *, change: bool):
        contact = self.get_object(request, str(object_id))
        if contact is None:
            raise Http404("No such contact.")
        allowed = self.has_change_permission(request, contact) if change else self.has_view_permission(request, contact)
        if not (request.user.is_staff and allowed):
            raise PermissionDenied
        return contact

    def export_view(self, request, object_id):
        contact = self._contact_or_404(request, object_id, change=False)
        include_internal = request.GET.get("include_internal") == "true"
        document = contact_export(contact=contact, by=request.user, include_internal=include_internal, request=request)
        return _json_download(document, f"contact-{contact.pk}-export.json")

    def erase_view(self, request, object_id):
        contact = self._contact_or_404(request, object_id, change=True)
        change_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[contact.pk])
        form = EraseForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                contact_erase(contact=contact, by=request.user, reason=form.cleaned_data["reason"], request=request)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.WARNING)
            else:
                self.message_user(request, "The contact was erased.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": "Erase contact",
            "contacts": [contact],
            "form": form,
            "opts": self.opts,
            "original": contact,
            "cancel_url": change_url,
        }
        return TemplateResponse(request, "admin/conversations/contact/erase.html", context)
