"""Approved WhatsApp templates, with the parameters each takes."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations import selectors
from conversations.api.input import validated
from conversations.api.messages import AUTHENTICATION
from conversations.api.schema import ERRORS
from conversations.serializers import MessageTemplateSerializer


class TemplateListQuery(serializers.Serializer):
    language = serializers.CharField(required=False, max_length=16, help_text="Only templates in this language.")


class TemplateListApi(APIView):
    authentication_classes = AUTHENTICATION

    @extend_schema(
        operation_id="templates_list",
        summary="Approved WhatsApp templates and the parameters each takes",
        description="`parameter_slots` gives how many values `header` and `body` take, and which buttons take one.",
        parameters=[TemplateListQuery],
        responses={200: MessageTemplateSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        params = validated(TemplateListQuery, request.query_params)
        templates = selectors.template_list_approved(language=params.get("language"))
        return Response(MessageTemplateSerializer(templates, many=True).data)


urlpatterns = [path("templates/", TemplateListApi.as_view(), name="template-list")]
