"""Contacts: read one, rename one, record an agent's opt-in or opt-out."""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.api.input import validated
from conversations.api.schema import ERRORS, error_response
from conversations.models import Channel, ConsentRecord, Contact
from conversations.privacy.export import consent_as_dict
from conversations.serializers import ContactSerializer
from conversations.services.contacts import contact_opt_in, contact_opt_out, contact_rename
from messaging_site.errors import ApplicationError


class ConsentRecordSerializer(serializers.Serializer):
    channel = serializers.CharField()
    opted_in = serializers.BooleanField()
    method = serializers.CharField(help_text="keyword, intent, error_200, agent, import, api or erasure")
    by = serializers.CharField(allow_null=True, help_text="The agent's username, if an agent did it.")
    reason = serializers.CharField()
    at = serializers.DateTimeField()


class ContactDetailSerializer(ContactSerializer):
    consent_history = serializers.SerializerMethodField()

    class Meta(ContactSerializer.Meta):
        fields = [*ContactSerializer.Meta.fields, "consent_history"]
        read_only_fields = fields

    @extend_schema_field(ConsentRecordSerializer(many=True))
    def get_consent_history(self, contact) -> list:
        return [consent_as_dict(record) for record in contact.consent_records.select_related("by").order_by("created_at", "id")]


class ContactUpdateInput(serializers.Serializer):
    display_name = serializers.CharField(max_length=200, allow_blank=True, trim_whitespace=True)


class ContactDetailApi(APIView):
    @extend_schema(
        operation_id="contacts_retrieve", summary="One contact, with its consent history", responses={200: ContactDetailSerializer, **ERRORS}
    )
    def get(self, request, pk: int):
        return Response(ContactDetailSerializer(get_object_or_404(Contact, pk=pk)).data)

    @extend_schema(
        operation_id="contacts_update",
        summary="Rename a contact",
        request=ContactUpdateInput,
        responses={200: ContactSerializer, **ERRORS},
    )
    def patch(self, request, pk: int):
        contact = get_object_or_404(Contact, pk=pk)
        data = validated(ContactUpdateInput, request.data)
        contact_rename(contact=contact, display_name=data["display_name"])
        return Response(ContactSerializer(contact).data)


class ContactConsentInput(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    opted_in = serializers.BooleanField(help_text="true: the customer agreed to receive messages again; false: stop messaging them.")
    reason = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", trim_whitespace=True,
        help_text="Required to opt a customer in (for example: they asked on the phone).",
    )


class ContactConsentApi(APIView):
    @extend_schema(
        operation_id="contacts_consent",
        summary="Opt a contact in or out on a channel, as the signed-in agent",
        description=(
            "Recorded in the contact's consent history (method `agent`, by the agent) and the audit log. "
            "Opting in needs a `reason`. Repeating the current state changes nothing."
        ),
        request=ContactConsentInput,
        responses={200: ContactDetailSerializer, **ERRORS, 409: error_response("The contact was erased.")},
    )
    def post(self, request, pk: int):
        contact = get_object_or_404(Contact, pk=pk)
        data = validated(ContactConsentInput, request.data)
        if contact.erased_at:
            raise ApplicationError("This contact was erased: its consent can no longer change.", code="erased", status=409)
        if data["opted_in"]:
            contact_opt_in(contact=contact, channel=data["channel"], method=ConsentRecord.Method.AGENT, by=request.user,
                           reason=data["reason"])
        else:
            contact_opt_out(contact=contact, channel=data["channel"], method=ConsentRecord.Method.AGENT, by=request.user,
                            reason=data["reason"] or f"Opted out by {request.user.get_username()}")
        contact.refresh_from_db()
        return Response(ContactDetailSerializer(contact).data)


urlpatterns = [
    path("contacts/<int:pk>/", ContactDetailApi.as_view(), name="contact-detail"),
    path("contacts/<int:pk>/consent/", ContactConsentApi.as_view(), name="contact-consent"),
]
