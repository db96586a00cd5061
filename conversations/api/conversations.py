"""Browsing the inbox: conversations, their messages, contacts, agents and the event catch-up feed.

Views only parse and validate the request, call a selector or a service, and serialize the
result. Errors use the shared shape {"error": {"message", "field", "code"}}.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations import selectors
from conversations.api.errors import ApiError
from conversations.models import Channel, Contact, Conversation
from conversations.permissions import AGENTS_GROUP, user_is_agent
from conversations.serializers import AgentSerializer, ContactSerializer, ConversationSerializer, MessageSerializer
from conversations.services.contacts import contact_rename
from conversations.services.conversations import (
    ReassignNotAllowed,
    conversation_assign_by_agent,
    conversation_mark_read,
    conversation_set_status,
)

ERROR_RESPONSE = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorDetail",
            {
                "message": serializers.CharField(),
                "field": serializers.CharField(allow_null=True),
                "code": serializers.CharField(),
            },
        )
    },
)
ERRORS = {
    400: OpenApiResponse(ERROR_RESPONSE, description="Invalid input (the field and a reason are given)."),
    403: OpenApiResponse(ERROR_RESPONSE, description="Not signed in as an agent, or not allowed."),
    404: OpenApiResponse(ERROR_RESPONSE, description="No such object."),
}


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _cursor_error(exc: selectors.InvalidCursor, field: str) -> ApiError:
    return ApiError(str(exc), field=field, code="invalid_cursor", status_code=400)


# --- conversations -----------------------------------------------------------------------------
class ConversationListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    assignee = serializers.CharField(required=False, help_text="`me`, `none` or an agent's id.")
    q = serializers.CharField(required=False, allow_blank=True, max_length=200, trim_whitespace=True)
    cursor = serializers.CharField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=50)

    def validate_assignee(self, value):
        if value in ("me", "none"):
            return value
        if value.isdigit():
            return int(value)
        raise serializers.ValidationError("Use `me`, `none` or an agent's numeric id.")


class ConversationPageSerializer(serializers.Serializer):
    results = ConversationSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for the next (older) page.")
    counts = inline_serializer(
        "ViewCounts",
        {"mine": serializers.IntegerField(), "unassigned": serializers.IntegerField(), "all": serializers.IntegerField()},
        allow_null=True,
        help_text=(
            "Conversations per view for this status and channel (first page only; null with a cursor). Counting "
            "stops at `count_limit`: a count equal to it means at least that many."
        ),
    )
    count_limit = serializers.IntegerField()


class ConversationListApi(APIView):
    @extend_schema(
        operation_id="conversations_list",
        summary="The inbox list, newest activity first",
        description=(
            "Filter by `status`, `channel`, `assignee` (`me`, `none` or an agent id) and a search `q` over the "
            "contact's name and phone and every message's text. Keyset-paginated: follow `next_cursor`. "
            "The first page also carries the Mine / Unassigned / All counts for the status and channel."
        ),
        parameters=[ConversationListQuery],
        responses={200: ConversationPageSerializer, **ERRORS},
    )
    def get(self, request):
        params = _validated(ConversationListQuery, request.query_params)
        assignee = params.get("assignee")
        view, assignee_id = "all", None
        if assignee == "me":
            view = "mine"
        elif assignee == "none":
            view = "unassigned"
        elif assignee is not None:
            assignee_id = assignee
        try:
            page = selectors.conversation_list_for_inbox(
                user=request.user,
                view=view,
                status=params.get("status"),
                channel=params.get("channel"),
                assignee_id=assignee_id,
                query=params.get("q", ""),
                cursor=params.get("cursor"),
                limit=params["limit"],
            )
        except selectors.InvalidCursor as exc:
            raise _cursor_error(exc, "cursor") from exc
        counts = None
        if not params.get("cursor"):
            counts = selectors.conversation_view_counts(
                user=request.user, status=params.get("status"), channel=params.get("channel")
            )
        return Response(
            {
                "results": ConversationSerializer(page.conversations, many=True).data,
                "next_cursor": page.next_cursor,
                "counts": counts,
                "count_limit": selectors.COUNT_LIMIT,
            }
        )


class ConversationUpdateInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    assignee_id = serializers.IntegerField(required=False, allow_null=True, help_text="An agent's id, or null to unassign.")

    def validate(self, data):
        if not data:
            raise serializers.ValidationError("Send `status` and/or `assignee_id`.", code="empty")
        return data


def _get_conversation(pk: int) -> Conversation:
    return get_object_or_404(Conversation.objects.select_related("contact", "assignee", "last_message"), pk=pk)


class ConversationDetailApi(APIView):
    @extend_schema(operation_id="conversations_retrieve", summary="One conversation", responses={200: ConversationSerializer, **ERRORS})
    def get(self, request, pk: int):
        return Response(ConversationSerializer(_get_conversation(pk)).data)

    @extend_schema(
        operation_id="conversations_update",
        summary="Change a conversation's status or assignee",
        description=(
            "`status`: open, pending or resolved. `assignee_id`: an agent's id, or null to unassign.\n\n"
            "Who may reassign: any agent may assign an unassigned conversation (to themselves or a colleague) "
            "and may hand on or drop a conversation assigned to themselves. Reassigning or unassigning a "
            "conversation that a colleague holds is for staff (supervisors) only: others get 403 "
            "`assigned_to_colleague`."
        ),
        request=ConversationUpdateInput,
        responses={200: ConversationSerializer, 422: OpenApiResponse(ERROR_RESPONSE, description="Not an agent."), **ERRORS},
    )
    def patch(self, request, pk: int):
        conversation = _get_conversation(pk)
        data = _validated(ConversationUpdateInput, request.data)
        with transaction.atomic():
            if "assignee_id" in data:
                assignee = None
                if data["assignee_id"] is not None:
                    assignee = get_user_model().objects.filter(pk=data["assignee_id"]).first()
                    if assignee is None or not user_is_agent(assignee):
                        raise ApiError(
                            "Conversations can only be assigned to active agents.", field="assignee_id", code="not_an_agent"
                        )
                try:
                    conversation_assign_by_agent(conversation=conversation, assignee=assignee, by=request.user)
                except ReassignNotAllowed as exc:
                    raise ApiError(str(exc), field="assignee_id", code="assigned_to_colleague", status_code=403) from exc
            if "status" in data:
                conversation_set_status(conversation=conversation, status=data["status"])
        return Response(ConversationSerializer(_get_conversation(pk)).data)


class ConversationReadApi(APIView):
    @extend_schema(
        operation_id="conversations_read",
        summary="Mark a conversation read (unread count to 0)",
        request=None,
        responses={200: ConversationSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        conversation = _get_conversation(pk)
        with transaction.atomic():
            conversation_mark_read(conversation=conversation)
        return Response(ConversationSerializer(_get_conversation(pk)).data)


# --- a thread's messages -------------------------------------------------------------------------
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
        params = _validated(MessageListQuery, request.query_params)
        try:
            page = selectors.message_list_for_thread(
                conversation=conversation, before=params.get("before"), after=params.get("after"), limit=params["limit"]
            )
        except selectors.InvalidCursor as exc:
            raise _cursor_error(exc, "after" if params.get("after") else "before") from exc
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
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER)],
        request=OpenApiTypes.OBJECT,
        responses={202: MessageSerializer, 422: OpenApiResponse(ERROR_RESPONSE), **ERRORS},
    )
    def post(self, request, pk: int):
        conversation = get_object_or_404(Conversation.objects.select_related("contact"), pk=pk)
        try:
            from conversations.api.messages import conversation_message_send
        except ImportError as exc:
            raise ApiError(
                "Sending is not available on this server yet.", code="not_implemented", status_code=501
            ) from exc
        return conversation_message_send(request, conversation)


# --- contacts and agents ---------------------------------------------------------------------------
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
        data = _validated(ContactUpdateInput, request.data)
        with transaction.atomic():
            contact_rename(contact=contact, display_name=data["display_name"])
        return Response(ContactSerializer(contact).data)


class AgentListApi(APIView):
    @extend_schema(
        operation_id="agents_list",
        summary="Agents a conversation can be assigned to",
        responses={200: AgentSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        agents = (
            get_user_model()
            .objects.filter(is_active=True)
            .filter(Q(is_staff=True) | Q(is_superuser=True) | Q(groups__name=AGENTS_GROUP))
            .distinct()
            .order_by("first_name", "username")
        )
        return Response(AgentSerializer(agents, many=True).data)


# --- the event log ----------------------------------------------------------------------------------
class EventListQuery(serializers.Serializer):
    after = serializers.IntegerField(required=False, min_value=0, help_text="The last cursor the page has applied.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=500)


class EventPageSerializer(serializers.Serializer):
    events = inline_serializer(
        "InboxEvent",
        {"cursor": serializers.IntegerField(), "type": serializers.CharField(), "payload": serializers.JSONField()},
        many=True,
    )
    last_cursor = serializers.IntegerField(help_text="Continue from here (the newest cursor when `after` is omitted).")
    reset = serializers.BooleanField(
        help_text="The gap is too large to replay: reload the list and thread, then continue from `last_cursor`."
    )


class EventListApi(APIView):
    @extend_schema(
        operation_id="events_list",
        summary="Replay inbox events after a cursor (reconnect catch-up)",
        description=(
            "Events are the same objects the WebSocket `/ws/inbox/` pushes. Ids are allocated at insert but "
            "transactions commit in any order, so a reconnecting client should ask from a little before its "
            "last cursor and apply events idempotently (newest `updated_at` wins). Without `after`, returns no "
            "events and the current head cursor. More than `limit` events after the cursor: `reset` is true."
        ),
        parameters=[EventListQuery],
        responses={200: EventPageSerializer, **ERRORS},
    )
    def get(self, request):
        params = _validated(EventListQuery, request.query_params)
        if "after" not in params:
            return Response({"events": [], "last_cursor": selectors.inbox_event_head(), "reset": False})
        page = selectors.inbox_events_after(after=params["after"], limit=params["limit"])
        return Response(
            {"events": [event.as_wire() for event in page.events], "last_cursor": page.last_cursor, "reset": page.reset},
            status=status.HTTP_200_OK,
        )


urlpatterns = [
    path("conversations/", ConversationListApi.as_view(), name="conversation-list"),
    path("conversations/<int:pk>/", ConversationDetailApi.as_view(), name="conversation-detail"),
    path("conversations/<int:pk>/read/", ConversationReadApi.as_view(), name="conversation-read"),
    path("conversations/<int:pk>/messages/", ConversationMessagesApi.as_view(), name="conversation-messages"),
    path("contacts/<int:pk>/", ContactDetailApi.as_view(), name="contact-detail"),
    path("agents/", AgentListApi.as_view(), name="agent-list"),
    path("events/", EventListApi.as_view(), name="event-list"),
]
