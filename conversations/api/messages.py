"""Sending and reading messages: POST /messages/, GET /messages/{id}/, retry, templates.

Views parse the request and call `conversations.outbound`; every refusal comes back as
{"error": {"message", "field", "code"}} with the status the outbound service chose (400 for a
malformed request, 409 for a conflict, 422 for a message WhatsApp or SMS rules forbid).
"""

from django.conf import settings
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import Throttled
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from conversations.api.conversations import ERROR_RESPONSE
from conversations.api.errors import ApiError
from conversations.models import Channel, Conversation, Message, MessageStatusEvent, MessageTemplate, SendAttempt
from conversations.outbound import KINDS, SendRefused, message_retry, message_send
from conversations.serializers import (
    AgentSerializer,
    MessageSerializer,
    MessageStatusEventSerializer,
    MessageTemplateSerializer,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


# --- auth and throttling ---------------------------------------------------------------------
# Token first, so an anonymous caller gets 401 with `WWW-Authenticate: Token` (not a bare 403);
# a browser's session still works, with its CSRF check.
AUTHENTICATION = [TokenAuthentication, SessionAuthentication]


class SendRateThrottle(SimpleRateThrottle):
    """Sends per user (OUTBOUND_SEND_RATE, e.g. "60/min"), across every sending endpoint."""

    scope = "send"

    def get_rate(self):
        return settings.OUTBOUND_SEND_RATE

    def get_cache_key(self, request, view):
        ident = request.user.pk if request.user and request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


def _throttle_send(request, view) -> None:
    throttle = SendRateThrottle()
    if not throttle.allow_request(request, view):
        raise Throttled(wait=throttle.wait(), detail="Too many messages sent; wait before sending more.")


# --- input ---------------------------------------------------------------------------------------
class TemplateParametersInput(serializers.Serializer):
    header = serializers.ListField(child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False,
                                   help_text="The header's values: text variables, or the media URL of a media header.")
    body = serializers.ListField(child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False,
                                 help_text="Values of {{1}}, {{2}}, ... in the body, in order.")
    buttons = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(allow_blank=True, trim_whitespace=False)), required=False,
        help_text='Per button index ("0"), its values: the variable of a url button.')


class TemplateCallInput(serializers.Serializer):
    name = serializers.CharField(max_length=512)
    language = serializers.CharField(max_length=16, help_text="e.g. en_US")
    parameters = TemplateParametersInput(required=False, help_text="Counts must match the template's `parameter_slots`.")


class InteractiveHeaderInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=["text", "image", "video", "document"], default="text")
    text = serializers.CharField(required=False, allow_blank=True, help_text="Up to 60 characters.")
    media = serializers.CharField(required=False, help_text="An http(s) URL, for a media header.")


class InteractiveTextInput(serializers.Serializer):
    text = serializers.CharField(allow_blank=True)


class InteractiveButtonInput(serializers.Serializer):
    id = serializers.CharField(required=False, allow_blank=True, help_text="Returned with the customer's reply.")
    title = serializers.CharField(allow_blank=True, help_text="Up to 20 characters.")
    cta_url = serializers.CharField(required=False, help_text="cta_url messages: the http(s) link.")


class InteractiveRowInput(serializers.Serializer):
    id = serializers.CharField(required=False, allow_blank=True)
    title = serializers.CharField(allow_blank=True, help_text="Up to 24 characters.")
    description = serializers.CharField(required=False, allow_blank=True, help_text="Up to 72 characters.")


class InteractiveSectionInput(serializers.Serializer):
    title = serializers.CharField(required=False, allow_blank=True)
    rows = InteractiveRowInput(many=True)


class InteractiveActionInput(serializers.Serializer):
    buttons = InteractiveButtonInput(many=True, required=False, help_text="button: 1-3 quick replies; cta_url: one link.")
    sections = InteractiveSectionInput(many=True, required=False, help_text="list: up to 10 rows in all.")


class InteractiveInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=["button", "list", "cta_url"])
    header = InteractiveHeaderInput(required=False)
    body = InteractiveTextInput(help_text="Up to 1024 characters.")
    footer = InteractiveTextInput(required=False, help_text="Up to 60 characters.")
    action = InteractiveActionInput()


class LocationInput(serializers.Serializer):
    latitude = serializers.CharField(help_text="Decimal degrees, -90 to 90.")
    longitude = serializers.CharField(help_text="Decimal degrees, -180 to 180.")
    name = serializers.CharField(help_text="The place's name, shown in bold (required by WhatsApp).")
    address = serializers.CharField(help_text="The street address under the name (required by WhatsApp).")


class MessageContentInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=list(KINDS), default="text",
                                   help_text="template, interactive and location are WhatsApp only.")
    text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="",
                                 help_text="text: the message (WhatsApp 4096, SMS 1600 characters); media: the caption.")
    media_urls = serializers.ListField(child=serializers.CharField(max_length=2000), required=False, default=list,
                                       help_text="media: http(s) URLs (WhatsApp one, MMS up to 10).")
    template = TemplateCallInput(required=False)
    interactive = InteractiveInput(required=False)
    location = LocationInput(required=False)


class MessageSendInput(MessageContentInput):
    to = serializers.CharField(max_length=40, help_text="The customer's number, best in E.164 (+14155550123).")
    channel = serializers.ChoiceField(choices=Channel.choices)


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
def _idempotency_key(request) -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > 100 or not key.isprintable() or not key.isascii():
        raise ApiError("The Idempotency-Key header must be at most 100 printable ASCII characters (a UUID works well).",
                       field=IDEMPOTENCY_HEADER, code="invalid_idempotency_key", status_code=400)
    return key


def _send(request, *, conversation: Conversation | None, data: dict) -> Response:
    try:
        message, created = message_send(
            conversation=conversation,
            to=data.get("to"),
            channel=data.get("channel"),
            kind=data["type"],
            text=data.get("text", ""),
            media_urls=data.get("media_urls"),
            template=data.get("template"),
            interactive=data.get("interactive"),
            location=data.get("location"),
            sent_by=request.user,
            idempotency_key=_idempotency_key(request),
        )
    except SendRefused as exc:
        raise ApiError(exc.message, field=exc.field, code=exc.code, status_code=exc.status_code) from exc
    headers = {} if created else {REPLAYED_HEADER: "true"}
    return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED, headers=headers)


def conversation_message_send(request, conversation: Conversation) -> Response:
    """POST /conversations/{id}/messages/ (the inbox's thread view delegates here): the same
    body as POST /messages/ without `to` and `channel`, with the same throttle."""
    _throttle_send(request, None)
    serializer = MessageContentInput(data=request.data)
    serializer.is_valid(raise_exception=True)
    return _send(request, conversation=conversation, data=serializer.validated_data)


ERRORS = {
    400: OpenApiResponse(ERROR_RESPONSE, description="Malformed request: the field and the reason are given."),
    401: OpenApiResponse(ERROR_RESPONSE, description="No credentials: send `Authorization: Token <key>` or sign in."),
    403: OpenApiResponse(ERROR_RESPONSE, description="Signed in, but not an agent."),
}
SEND_ERRORS = {
    **ERRORS,
    409: OpenApiResponse(ERROR_RESPONSE, description="This Idempotency-Key was already used for a different message."),
    422: OpenApiResponse(ERROR_RESPONSE, description=(
        "Refused by the channel's rules; `code` says which: `invalid_phone`, `window_closed` (WhatsApp's 24-hour "
        "window is closed: send an approved template), `opted_out`, `template_not_found`, `template_not_approved`, "
        "`template_parameters`, `too_long`, `too_many_buttons`, `too_many_rows`, `too_many_media`, "
        "`invalid_media_url`, `unsupported_for_channel`.")),
    429: OpenApiResponse(ERROR_RESPONSE, description="Too many sends; the `Retry-After` header says how many seconds to wait."),
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
        responses={202: OpenApiResponse(MessageSerializer, description=ACCEPTED_DESCRIPTION), **SEND_ERRORS},
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
        serializer = MessageSendInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _send(request, conversation=None, data=serializer.validated_data)


class MessageDetailApi(APIView):
    authentication_classes = AUTHENTICATION

    @extend_schema(
        operation_id="messages_retrieve",
        summary="One message with its delivery history and send attempts",
        responses={200: MessageDetailSerializer, **ERRORS,
                   404: OpenApiResponse(ERROR_RESPONSE, description="No such message.")},
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
                   404: OpenApiResponse(ERROR_RESPONSE, description="No such message."),
                   409: OpenApiResponse(ERROR_RESPONSE, description="Not failed (or already being sent): nothing to retry."),
                   429: SEND_ERRORS[429]},
    )
    def post(self, request, pk: int):
        message = get_object_or_404(Message, pk=pk)
        try:
            message_retry(message=message, requested_by=request.user)
        except SendRefused as exc:
            raise ApiError(exc.message, field=exc.field, code=exc.code, status_code=exc.status_code) from exc
        return Response(MessageDetailSerializer(_message_detail(pk)).data, status=status.HTTP_202_ACCEPTED)


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
        query = TemplateListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        templates = MessageTemplate.objects.filter(status=MessageTemplate.Status.APPROVED)
        if query.validated_data.get("language"):
            templates = templates.filter(language=query.validated_data["language"])
        return Response(MessageTemplateSerializer(templates.order_by("name", "language"), many=True).data)


urlpatterns: list = [
    path("messages/", MessageSendApi.as_view(), name="message-send"),
    path("messages/<int:pk>/", MessageDetailApi.as_view(), name="message-detail"),
    path("messages/<int:pk>/retry/", MessageRetryApi.as_view(), name="message-retry"),
    path("templates/", TemplateListApi.as_view(), name="template-list"),
]
