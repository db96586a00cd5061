"""The inbox event log, for a reconnecting page to catch up on what its socket missed."""

from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations import selectors
from conversations.api.input import validated
from conversations.api.schema import ERRORS


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
        params = validated(EventListQuery, request.query_params)
        if "after" not in params:
            return Response({"events": [], "last_cursor": selectors.inbox_event_head(), "reset": False})
        page = selectors.inbox_events_after(after=params["after"], limit=params["limit"])
        return Response(
            {"events": [event.as_wire() for event in page.events], "last_cursor": page.last_cursor, "reset": page.reset}
        )


urlpatterns = [path("events/", EventListApi.as_view(), name="event-list")]
