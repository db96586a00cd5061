"""Private notes: agents write them in a conversation's thread for each other.

A note is never sent to the customer and never counts as a reply; `@username` in it notifies
that agent (see `/api/v1/notifications/`).
"""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.api.input import idempotency_key, validated
from conversations.api.messages import AUTHENTICATION, IDEMPOTENCY_PARAMETER, REPLAYED_HEADER
from conversations.api.schema import ERRORS, error_response
from conversations.models import Conversation
from conversations.serializers import MessageSerializer
from conversations.services.thread_entries import NOTE_MAX_LENGTH, note_add, note_replay


class NoteInput(serializers.Serializer):
    text = serializers.CharField(
        max_length=NOTE_MAX_LENGTH,
        help_text="What colleagues read. `@username` mentions an agent, who is notified.",
    )


class ConversationNoteCreateApi(APIView):
    authentication_classes = AUTHENTICATION

    @extend_schema(
        operation_id="conversations_notes_create",
        summary="Add a private note to a conversation",
        description=(
            "The note joins the thread (`kind: note`, `direction: internal`, with its `author`) and reaches "
            "every agent's inbox live. It is never sent to the customer, whatever the channel or WhatsApp "
            "window, and never counts as a reply. Each agent it @mentions gets a notification."
        ),
        request=NoteInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: MessageSerializer, 200: MessageSerializer, **ERRORS,
                   409: error_response("This Idempotency-Key was already used for something else.")},
        examples=[OpenApiExample("A note with a mention", request_only=True,
                                 value={"text": "@bob can you check the refund for this order?"})],
    )
    def post(self, request, pk: int):
        conversation = get_object_or_404(Conversation, pk=pk)
        data = validated(NoteInput, request.data)
        key = idempotency_key(request)
        note = note_replay(conversation=conversation, author=request.user, text=data["text"], idempotency_key=key)
        if note is not None:
            return Response(MessageSerializer(note).data, status=status.HTTP_200_OK, headers={REPLAYED_HEADER: "true"})
        note = note_add(conversation=conversation, author=request.user, text=data["text"], idempotency_key=key)
        return Response(MessageSerializer(note).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("conversations/<int:pk>/notes/", ConversationNoteCreateApi.as_view(), name="conversation-notes"),
]
