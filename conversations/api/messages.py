"""Messages: send to a number, read one with its history, retry a failed one, and a
conversation's thread (read and send in it).

Views validate the request and call `conversations.outbound`; its `ApplicationError`s reach the
caller through the API's exception handler with the status the service chose (400 for a
malformed request, 409 for a conflict, 422 for a message WhatsApp or SMS rules forbid).
"""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from conversations import selectors
from conversations.api.input import IDEMPOTENCY_HEADER, idempotency_key, validated
from conversations.api.message_inputs import MessageContentInput, MessageSendInput
from conversations.api.schema import ERRORS, error_response
from conversations.models import Conversation, Message, MessageStatusEvent, SendAttempt
from conversations.outbound import message_retry, message_send
from conversations.serializers import AgentSerializer, MessageSerializer, MessageStatusEventSerializer

REPLAYED_HEADER = "Idempotent-Replayed"

# Token first, so an anonymous caller gets 401 with `WWW-Authenticate: Token` (not a bare 403);
# a browser's session still works, with its CSRF check.
AUTHENTICATION = [TokenAuthentication, SessionAuthentication]


class SendRateThrottle(UserRateThrottle):
    """Sends per user (OUTBOUND_SEND_RATE, e.g. "60/min"), across every sending endpoint."""

    scope = "send"


# --- output --------------------------------------------------------------------------------------
class SendAttemptSerializer(serializers.ModelSerializer):
    requested_by = AgentSerializer(read_only=True, help_text="The agent whose retry made this attempt; null for the queue.")

    class Meta:
        model = SendAttempt
        fields = ["number", "requested_by", "started_at", "finished_at", "outcome", "http_status", "detail"]
        read_only_fields = fields


class MessageDetailSerializer(MessageSerializer):
    status_history = MessageStatusEventSerializer(source="status_events", many=True, read_only=True)
    send_attempts = SendAttemptSerializer(many=True, read_only=True)

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "status_history", "send_attempts"]
        read_only_fields = fields


def _message_detail(pk: int) -> Message:
    return get_object_or_404(
        Message.objects.select_related("sent_by", "reply_to").prefetch_related(
            Prefetch("status_events", queryset=MessageStatusEvent.objects.order_by("received_at", "id")),
            Prefetch("send_attempts", queryset=SendAttempt.objects.select_related("requested_by").order_by("number")),
        ),
        pk=pk,
    )


# --- the send path -------------------------------------------------------------------------------
def _send(request, *, conversation: Conversation | None, data: dict) -> Response:
    message, created = message_send(
        conversation=conversation,
        to=data.get("to"),
        channel=data.get("channel"),
        kind=data["kind"],
        text=data.get("text", ""),
        media_urls=data.get("media_urls"),
        attachments=data.get("attachments"),
        template=data.get("template"),
        interactive=data.get("interactive"),
        location=data.get("location"),
        sent_by=request.user,
        idempotency_key=idempotency_key(request),
    )
    headers = {} if created else {REPLAYED_HEADER: "true"}
    return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED, headers=headers)


SEND_ERRORS = {
    **ERRORS,
    409: error_response("This Idempotency-Key was already used for a different message."),
    422: error_response(
        "Refused by the channel's rules; `code` says which: `invalid_phone`, `window_closed` (WhatsApp's 24-hour "
        "window is closed: send an approved template), `opted_out`, `template_not_found`, `template_not_approved`, "
        "`template_parameters`, `too_long`, `too_many_buttons`, `too_many_rows`, `too_many_media`, "
        "`invalid_media_url`, `unsupported_for_channel`."),
    429: error_response("Too many sends; the `Retry-After` header says how many seconds to wait."),
}
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Any unique string (up to 100 characters) per message. A repeated request with the same key returns "
                "the first message (header `Idempotent-Replayed: true`) and sends nothing.",
)
ACCEPTED_DESCRIPTION = (
    "Queued: the message is stored with status `queued` and will be sent within seconds. Follow it with "
    "GET /api/v1/messages/{id}/ or the inbox events (`sending`, `sent`, `delivered`, `read`, or `failed` with "
    "`error_message`). `unconfirmed: true` means Plivo did not answer in time and a delivery report is awaited."
)


class MessageSendApi(APIView):
    authentication_classes = AUTHENTICATION
    throttle_classes = [SendRateThrottle]

    @extend_schema(
        operation_id="messages_send",
        summary="Send a WhatsApp or SMS message to a number",
        description=(
            "Creates the contact and conversation when the number is new. WhatsApp free-form messages (text, media, "
            "interactive, location) need the customer's last message to be under 24 hours old; otherwise send an "
            "approved template (see GET /api/v1/templates/). " + ACCEPTED_DESCRIPTION
        ),
        request=MessageSendInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            202: OpenApiResponse(MessageSerializer, description=ACCEPTED_DESCRIPTION),
            **{code: response for code, response in SEND_ERRORS.items() if code != 404},
        },
        examples=[
            OpenApiExample("WhatsApp text", request_only=True,
                           value={"to": "+14155550123", "channel": "whatsapp", "type": "text", "text": "Hi Ada!"}),
            OpenApiExample("WhatsApp template", request_only=True, value={
                "to": "+14155550123", "channel": "whatsapp", "type": "template",
                "template": {"name": "order_shipped", "language": "en_US", "parameters": {"body": ["Ada", "A-17"]}}}),
            OpenApiExample("Quick replies", request_only=True, value={
                "to": "+14155550123", "channel": "whatsapp", "type": "interactive",
                "interactive": {"type": "button", "body": {"text": "Is now a good time?"},
                                "action": {"buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "Later"}]}}}),
            OpenApiExample("MMS", request_only=True, value={
                "to": "+14155550123", "channel": "sms", "type": "media", "text": "Your receipt",
                "media_urls": ["https://example.com/receipt.png"]}),
        ],
    )
    def post(self, request):
        return _send(request, conversation=None, data=validated(MessageSendInput, request.data))


class MessageDetailApi(APIView):
    authentication_classes = AUTHENTICATION

    @extend_schema(
        operation_id="messages_retrieve",
        summary="One message with its delivery history and send attempts",
        responses={200: MessageDetailSerializer, **ERRORS},
    )
    def get(self, request, pk: int):
        return Response(MessageDetailSerializer(_message_detail(pk)).data)


class MessageRetryApi(APIView):
    authentication_classes = AUTHENTICATION
    throttle_classes = [SendRateThrottle]

    @extend_schema(
        operation_id="messages_retry",
        summary="Send a failed message again",
        description=(
            "For an outbound message whose status is `failed`, `undelivered` or `rejected`: sends it again now and "
            "records the attempt under your name. Mind messages that failed as \"may not have been sent\": the "
            "customer may already have the first copy."
        ),
        request=None,
        responses={202: OpenApiResponse(MessageDetailSerializer, description="The message after the new attempt."),
                   **ERRORS,
                   409: error_response("Not failed (or already being sent): nothing to retry."),
                   429: SEND_ERRORS[429]},
    )
    def post(self, request, pk: int):
        message_retry(message=get_object_or_404(Message, pk=pk), requested_by=request.user)
        return Response(MessageDetailSerializer(_message_detail(pk)).data, status=status.HTTP_202_ACCEPTED)


# --- a conversation's thread -------------------------------------------------------------------------
class MessageListQuery(serializers.Serializer):
    before = serializers.CharField(required=False, help_text="`older_cursor` of a page: load the messages before it.")
    after = serializers.CharField(
        required=False, help_text="A message's `cursor`: the messages after it, oldest first (catch-up)."
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)

    def validate(self, data):
        if data.get("before") and data.get("after"):
            raise serializers.ValidationError("Use either `before` or `after`, not both.", code="conflict")
        return data


class ThreadMessageSerializer(MessageSerializer):
    cursor = serializers.SerializerMethodField()

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "cursor"]
        read_only_fields = fields

    def get_cursor(self, message) -> str:
        return selectors.message_cursor(message)


class MessagePageSerializer(serializers.Serializer):
    results = ThreadMessageSerializer(many=True)
    older_cursor = serializers.CharField(allow_null=True, help_text="Pass as `before` to load older messages.")
    has_more = serializers.BooleanField(help_text="With `after`: more messages follow; ask again after the last.")


class ConversationMessagesApi(APIView):
    def get_throttles(self):
        # Reading the thread is not throttled; sending in it shares the send budget.
        return [SendRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        operation_id="conversations_messages_list",
        summary="A thread's messages, oldest first",
        description=(
            "Without parameters: the newest `limit` messages. `before=<older_cursor>` loads the page before "
            "(\"load older\"); `after=<a message's cursor>` returns the messages after it (catch-up)."
        ),
        parameters=[MessageListQuery],
        responses={200: MessagePageSerializer, **ERRORS},
    )
    def get(self, request, pk: int):
        conversation = get_object_or_404(Conversation, pk=pk)
        params = validated(MessageListQuery, request.query_params)
        page = selectors.message_list_for_thread(
            conversation=conversation, before=params.get("before"), after=params.get("after"), limit=params["limit"]
        )
        return Response(
            {
                "results": ThreadMessageSerializer(page.messages, many=True).data,
                "older_cursor": page.older_cursor,
                "has_more": page.has_more,
            }
        )

    @extend_schema(
        operation_id="conversations_messages_create",
        summary="Send a message in this conversation",
        description=(
            "Body and answers as `POST /api/v1/messages/`, with the recipient and channel taken from the "
            "conversation. Send an `Idempotency-Key` header: a repeated request returns the first message."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=MessageContentInput,
        responses={202: OpenApiResponse(MessageSerializer, description=ACCEPTED_DESCRIPTION), **SEND_ERRORS},
    )
    def post(self, request, pk: int):
        conversation = get_object_or_404(Conversation.objects.select_related("contact"), pk=pk)
        return _send(request, conversation=conversation, data=validated(MessageContentInput, request.data))


urlpatterns = [
    path("messages/", MessageSendApi.as_view(), name="message-send"),
    path("messages/<int:pk>/", MessageDetailApi.as_view(), name="message-detail"),
    path("messages/<int:pk>/retry/", MessageRetryApi.as_view(), name="message-retry"),
    path("conversations/<int:pk>/messages/", ConversationMessagesApi.as_view(), name="conversation-messages"),
]
