"""Privacy endpoints for staff: the audit log, a contact's export and erasure."""

from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.api.input import validated
from conversations.api.schema import ERRORS, error_response
from conversations.models import AuditEntry, Contact
from conversations.permissions import user_is_agent
from conversations.privacy.erase import contact_erase
from conversations.privacy.export import contact_export
from conversations.selectors.cursors import decode_cursor, encode_cursor
from conversations.serializers import ContactSerializer


class IsStaff(BasePermission):
    message = "Only staff can do this."

    def has_permission(self, request, view):
        return user_is_agent(request.user) and request.user.is_staff


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = ["id", "actor_id", "actor_name", "action", "object_type", "object_id", "details", "ip_address", "created_at"]
        read_only_fields = fields


class AuditListQuery(serializers.Serializer):
    actor = serializers.CharField(required=False, help_text="A user's id or username.")
    action = serializers.CharField(required=False, help_text="An action name, e.g. contact.erased; `contact.` matches a prefix.")
    since = serializers.DateTimeField(required=False, help_text="Entries at or after this moment (ISO 8601).")
    cursor = serializers.CharField(required=False, help_text="`next_cursor` of the previous page.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)


class AuditPageSerializer(serializers.Serializer):
    results = AuditEntrySerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for older entries; null at the end.")


class AuditListApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="audit_list",
        summary="The audit log, newest first (staff only)",
        parameters=[AuditListQuery],
        responses={200: AuditPageSerializer, **ERRORS},
    )
    def get(self, request):
        params = validated(AuditListQuery, request.query_params)
        entries = AuditEntry.objects.order_by("-created_at", "-id")
        if "actor" in params:
            actor = params["actor"]
            entries = entries.filter(actor_id=int(actor)) if actor.isdigit() else entries.filter(actor_name=actor)
        if "action" in params:
            action = params["action"]
            entries = entries.filter(action__startswith=action) if action.endswith(".") else entries.filter(action=action)
        if "since" in params:
            entries = entries.filter(created_at__gte=params["since"])
        if "cursor" in params:
            moment, pk = decode_cursor(params["cursor"], field="cursor")
            entries = entries.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
        page = list(entries[: params["limit"] + 1])
        more = len(page) > params["limit"]
        page = page[: params["limit"]]
        next_cursor = encode_cursor(page[-1].created_at, page[-1].pk) if more else None
        return Response({"results": AuditEntrySerializer(page, many=True).data, "next_cursor": next_cursor})


class ContactExportQuery(serializers.Serializer):
    include_internal = serializers.BooleanField(required=False, default=False, help_text="Include notes and activity entries.")


class ContactExportApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="contacts_export",
        summary="Everything held about a contact, as one JSON document (staff only)",
        parameters=[ContactExportQuery],
        responses={200: OpenApiResponse(description="The export document (format parley.contact-export.v1)."), **ERRORS},
    )
    def get(self, request, pk: int):
        params = validated(ContactExportQuery, request.query_params)
        contact = get_object_or_404(Contact, pk=pk)
        document = contact_export(contact=contact, by=request.user, include_internal=params["include_internal"], request=request)
        response = Response(document)
        response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}-export.json"'
        return response


class ContactEraseInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Why (e.g. the customer's erasure request of 2026-01-05).")


class ContactEraseApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="contacts_erase",
        summary="Erase a contact: final, audited (staff only)",
        description=(
            "Deletes message text, media references, structured content and the contact's name; keeps messages as "
            "tombstones and replaces the phone number. An opt-out survives as a keyed hash on the suppression list."
        ),
        request=ContactEraseInput,
        responses={200: ContactSerializer, **ERRORS, 409: error_response("The contact was already erased.")},
    )
    def post(self, request, pk: int):
        data = validated(ContactEraseInput, request.data)
        contact = get_object_or_404(Contact, pk=pk)
        contact = contact_erase(contact=contact, by=request.user, reason=data["reason"], request=request)
        return Response(ContactSerializer(contact).data)


urlpatterns = [
    path("audit/", AuditListApi.as_view(), name="audit-list"),
    path("contacts/<int:pk>/export/", ContactExportApi.as_view(), name="contact-export"),
    path("contacts/<int:pk>/erase/", ContactEraseApi.as_view(), name="contact-erase"),
]
