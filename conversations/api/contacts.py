"""Contacts: read one, rename one."""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.api.input import validated
from conversations.api.schema import ERRORS
from conversations.models import Contact
from conversations.privacy.export import consent_as_dict
from conversations.serializers import ContactSerializer
from conversations.services.contacts import contact_rename


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


urlpatterns = [path("contacts/<int:pk>/", ContactDetailApi.as_view(), name="contact-detail")]
