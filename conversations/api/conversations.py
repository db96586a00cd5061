"""The inbox's conversations: the list with its views, label filter and search, one
conversation, its status, assignee and labels, and marking it read. (Its thread is in `messages`.)"""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations import selectors
from conversations.api.input import validated
from conversations.api.schema import ERRORS, error_response
from conversations.models import Channel, Conversation
from conversations.team_models import LABEL_NAME_MAX_LENGTH
from conversations.serializers import ConversationSerializer
from conversations.services.conversations import conversation_mark_read, conversation_update


class ConversationListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    assignee = serializers.CharField(required=False, help_text="`me`, `none` or an agent's id.")
    label = serializers.CharField(
        required=False, max_length=LABEL_NAME_MAX_LENGTH, help_text="Only conversations with this label (its name, any case)."
    )
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
            "Filter by `status`, `channel`, `assignee` (`me`, `none` or an agent id), `label` (a label's name; "
            "an unknown one is a 400) and a search `q` over the contact's name and phone and every message's "
            "text. Keyset-paginated: follow `next_cursor`. The first page also carries the Mine / Unassigned / "
            "All counts for the status, channel and label."
        ),
        parameters=[ConversationListQuery],
        responses={200: ConversationPageSerializer, **ERRORS},
    )
    def get(self, request):
        params = validated(ConversationListQuery, request.query_params)
        assignee = params.get("assignee")
        view, assignee_id = "all", None
        if assignee == "me":
            view = "mine"
        elif assignee == "none":
            view = "unassigned"
        elif assignee is not None:
            assignee_id = assignee
        label_id = selectors.label_for_filter(params["label"]).pk if params.get("label") else None
        page = selectors.conversation_list_for_inbox(
            user=request.user,
            view=view,
            status=params.get("status"),
            channel=params.get("channel"),
            assignee_id=assignee_id,
            label_id=label_id,
            query=params.get("q", ""),
            cursor=params.get("cursor"),
            limit=params["limit"],
        )
        counts = None
        if not params.get("cursor"):
            counts = selectors.conversation_view_counts(
                user=request.user, status=params.get("status"), channel=params.get("channel"), label_id=label_id
            )
        return Response(
            {
                "results": ConversationSerializer(page.conversations, many=True).data,
                "next_cursor": page.next_cursor,
                "counts": counts,
                "count_limit": selectors.COUNT_LIMIT,
            }
        )


MAX_LABELS = 20


class ConversationUpdateInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    assignee_id = serializers.IntegerField(required=False, allow_null=True, help_text="An agent's id, or null to unassign.")
    labels = serializers.ListField(
        child=serializers.CharField(max_length=LABEL_NAME_MAX_LENGTH),
        required=False,
        max_length=MAX_LABELS,
        help_text="Every label the conversation should have, by name (any case); `[]` removes them all.",
    )

    def validate(self, data):
        if not data:
            raise serializers.ValidationError("Send `status`, `assignee_id` and/or `labels`.", code="empty")
        return data


def _get_conversation(pk: int) -> Conversation:
    return get_object_or_404(
        selectors.with_label_summaries(Conversation.objects.select_related("contact", "assignee", "last_message")), pk=pk
    )


class ConversationDetailApi(APIView):
    @extend_schema(operation_id="conversations_retrieve", summary="One conversation", responses={200: ConversationSerializer, **ERRORS})
    def get(self, request, pk: int):
        return Response(ConversationSerializer(_get_conversation(pk)).data)

    @extend_schema(
        operation_id="conversations_update",
        summary="Change a conversation's status, assignee or labels",
        description=(
            "`status`: open, pending or resolved. `assignee_id`: an agent's id, or null to unassign. "
            "`labels`: the full set of label names (an unknown name is a 400 naming `labels`); a change adds "
            "a `labelled` activity entry to the thread.\n\n"
            "Who may reassign: any agent may assign an unassigned conversation (to themselves or a colleague) "
            "and may hand on or drop a conversation assigned to themselves. Reassigning or unassigning a "
            "conversation that a colleague holds is for staff (supervisors) only: others get 403 "
            "`assigned_to_colleague`."
        ),
        request=ConversationUpdateInput,
        responses={200: ConversationSerializer, 422: error_response("`assignee_id` is not an active agent."), **ERRORS},
    )
    def patch(self, request, pk: int):
        data = validated(ConversationUpdateInput, request.data)
        conversation_update(conversation=_get_conversation(pk), by=request.user, **data)
        return Response(ConversationSerializer(_get_conversation(pk)).data)


class ConversationReadApi(APIView):
    @extend_schema(
        operation_id="conversations_read",
        summary="Mark a conversation read (unread count to 0)",
        request=None,
        responses={200: ConversationSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        conversation_mark_read(conversation=_get_conversation(pk))
        return Response(ConversationSerializer(_get_conversation(pk)).data)


urlpatterns = [
    path("conversations/", ConversationListApi.as_view(), name="conversation-list"),
    path("conversations/<int:pk>/", ConversationDetailApi.as_view(), name="conversation-detail"),
    path("conversations/<int:pk>/read/", ConversationReadApi.as_view(), name="conversation-read"),
]
