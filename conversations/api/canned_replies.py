"""Canned replies: saved answers an agent finds from the composer (staff write them in the admin)."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations import selectors
from conversations.api.input import validated
from conversations.api.schema import ERRORS
from conversations.models import Conversation
from conversations.serializers import CannedReplySerializer
from messaging_site.errors import ApplicationError


class CannedReplyListQuery(serializers.Serializer):
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="Part of a shortcut, title or text (any case)."
    )
    conversation_id = serializers.IntegerField(
        required=False, min_value=1, help_text="Fill each reply's placeholders for this conversation (`filled_text`)."
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=50, default=20)


class CannedReplyListApi(APIView):
    @extend_schema(
        operation_id="canned_replies_list",
        summary="Search canned replies",
        description=(
            "Replies whose shortcut, title or text contains `q`; shortcut matches first, then title matches. "
            "Placeholders `{{contact.name}}`, `{{contact.phone}}` and `{{agent.name}}` are filled in "
            "`filled_text` when `conversation_id` is given (an unknown contact name becomes \"there\"). "
            "Canned replies are free text: on WhatsApp they can only be sent inside the 24-hour window."
        ),
        parameters=[CannedReplyListQuery],
        responses={200: CannedReplySerializer(many=True), **ERRORS},
    )
    def get(self, request):
        params = validated(CannedReplyListQuery, request.query_params)
        conversation = None
        if "conversation_id" in params:
            conversation = Conversation.objects.select_related("contact").filter(pk=params["conversation_id"]).first()
            if conversation is None:
                raise ApplicationError("No conversation has this id.", field="conversation_id", code="not_found", status=400)
        replies = selectors.canned_reply_search(query=params.get("q", ""), limit=params["limit"])
        context = {"conversation": conversation, "agent": request.user}
        return Response(CannedReplySerializer(replies, many=True, context=context).data)


urlpatterns = [path("canned-replies/", CannedReplyListApi.as_view(), name="canned-reply-list")]
