"""Contacts: read one, rename one."""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.api.input import validated
from conversations.api.schema import ERRORS
from conversations.models import Contact
from conversations.serializers import ContactSerializer
from conversations.services.contacts import contact_rename


class ContactUpdateInput(serializers.Serializer):
    display_name = serializers.CharField(max_length=200, allow_blank=True, trim_whitespace=True)


class ContactDetailApi(APIView):
    @extend_schema(operation_id="contacts_retrieve", summary="One contact", responses={200: ContactSerializer, **ERRORS})
    def get(self, request, pk: int):
        return Response(ContactSerializer(get_object_or_404(Contact, pk=pk)).data)

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
