"""Starting a conversation: before an agent writes to a number, the inbox asks whether Parley
already has a conversation with it on that channel (then that one opens, never a duplicate) and
whether the number may be written to at all. The first message is then an ordinary send
(`POST /api/v1/messages/` with `to` and `channel`)."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.api.input import validated
from conversations.api.messages import AUTHENTICATION
from conversations.api.schema import ERRORS
from conversations.models import Channel
from conversations.selectors.numbers import number_lookup


class NumberLookupQuery(serializers.Serializer):
    phone = serializers.CharField(max_length=40, help_text="Any format; without a country code it is read in PHONE_DEFAULT_REGION.")
    channel = serializers.ChoiceField(choices=Channel.choices)


class NumberLookupSerializer(serializers.Serializer):
    phone = serializers.CharField(help_text="The number in E.164.")
    channel = serializers.CharField()
    conversation_id = serializers.IntegerField(allow_null=True, help_text="The existing conversation, to open instead.")
    refusal = serializers.CharField(allow_null=True, help_text="Why nothing can be sent to this number on this channel.")
    window_open = serializers.BooleanField(help_text="WhatsApp: free text is possible (the customer wrote within 24 hours).")


class ConversationStartLookupApi(APIView):
    authentication_classes = AUTHENTICATION

    @extend_schema(
        operation_id="conversations_lookup",
        summary="Find the conversation with a number on a channel, before starting one",
        parameters=[NumberLookupQuery],
        responses={200: NumberLookupSerializer, **ERRORS},
    )
    def get(self, request):
        params = validated(NumberLookupQuery, request.query_params)
        return Response(number_lookup(phone=params["phone"], channel=params["channel"]))


urlpatterns = [
    path("conversations/lookup/", ConversationStartLookupApi.as_view(), name="conversation-lookup"),
]
