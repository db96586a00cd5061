"""Bulk changes: one status, assignee and/or label change for several conversations at once."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.api.input import validated
from conversations.api.schema import ERRORS, error_response
from conversations.models import Conversation
from conversations.serializers import ConversationSerializer
from conversations.services.bulk import BULK_LIMIT, conversations_bulk_update


class ConversationBulkInput(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=BULK_LIMIT,
        help_text=f"The conversations to change (at most {BULK_LIMIT}).",
    )
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    assignee_id = serializers.IntegerField(required=False, allow_null=True, help_text="An agent's id, or null to unassign.")
    snoozed_until = serializers.DateTimeField(required=False, help_text='With `"status": "snoozed"`: when they wake.')
    labels_add = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=20, help_text="Label names to add to each."
    )
    labels_remove = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=20, help_text="Label names to take off each."
    )


class BulkRefusalSerializer(serializers.Serializer):
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True)
    code = serializers.CharField()
    status = serializers.IntegerField(help_text="What a single PATCH of this conversation would have answered.")


class BulkResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ok = serializers.BooleanField()
    conversation = ConversationSerializer(allow_null=True, help_text="As changed; null when refused.")
    error = BulkRefusalSerializer(allow_null=True, help_text="Why this one was not changed; null when it was.")


class BulkAnswerSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)


class ConversationBulkApi(APIView):
    @extend_schema(
        operation_id="conversations_bulk_update",
        summary="Change the status, assignee or labels of several conversations",
        description=(
            "Applies the change to each conversation as `PATCH /api/v1/conversations/{id}/` would, each in its "
            "own transaction, under the same assignment rule: a refused one (a colleague's conversation, an "
            "unknown id) does not stop the others. The answer has one result per id, in the order given "
            "(repeated ids once). Labels are added and taken off by name, keeping each conversation's others. "
            "A request that is wrong for every id (a snooze time in the past, an assignee who is not an agent, "
            "an unknown label) is refused as a whole."
        ),
        request=ConversationBulkInput,
        responses={
            200: BulkAnswerSerializer,
            422: error_response("`assignee_id` is not an active agent."),
            **ERRORS,
        },
    )
    def post(self, request):
        data = validated(ConversationBulkInput, request.data)
        results = conversations_bulk_update(by=request.user, **data)
        return Response(BulkAnswerSerializer({"results": [
            {
                "id": result.id,
                "ok": result.error is None,
                "conversation": result.conversation,
                "error": None if result.error is None else {**result.error.as_body()["error"], "status": result.error.status},
            }
            for result in results
        ]}).data)


urlpatterns = [path("conversations/bulk/", ConversationBulkApi.as_view(), name="conversation-bulk")]
