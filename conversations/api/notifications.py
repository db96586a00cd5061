"""The signed-in agent's notifications (a colleague @mentioned them in a note): list them,
mark one or all read. Each agent sees and marks only their own."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations import selectors
from conversations.api.input import validated
from conversations.api.messages import AUTHENTICATION
from conversations.api.schema import ERRORS
from conversations.serializers import NotificationSerializer
from conversations.services.notifications import notification_mark_read, notifications_mark_all_read


class NotificationListQuery(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False, help_text="Only the unread ones.")
    cursor = serializers.CharField(required=False, help_text="`next_cursor` of a page: the older ones after it.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=50)


class NotificationPageSerializer(serializers.Serializer):
    results = NotificationSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for the next (older) page.")
    unread_count = serializers.IntegerField(help_text="All your unread notifications, not just this page's.")


class NotificationsReadSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many were unread.")
    unread_count = serializers.IntegerField()


class NotificationListApi(APIView):
    authentication_classes = AUTHENTICATION

    @extend_schema(
        operation_id="notifications_list",
        summary="Your notifications, newest first",
        description=(
            "What colleagues @mentioned you in, with your unread count. The inbox socket pushes "
            "`notification.created` and `notifications.read` to your own tabs only; after a reconnect, fetch "
            "this again."
        ),
        parameters=[NotificationListQuery],
        responses={200: NotificationPageSerializer, **ERRORS},
    )
    def get(self, request):
        params = validated(NotificationListQuery, request.query_params)
        page = selectors.notification_list_for_user(
            user=request.user, unread_only=params["unread"], cursor=params.get("cursor"), limit=params["limit"]
        )
        return Response(
            {
                "results": NotificationSerializer(page.notifications, many=True).data,
                "next_cursor": page.next_cursor,
                "unread_count": selectors.notification_unread_count(user_id=request.user.pk),
            }
        )


class NotificationReadApi(APIView):
    authentication_classes = AUTHENTICATION

    @extend_schema(
        operation_id="notifications_read",
        summary="Mark one of your notifications read",
        description="Marking it again changes nothing. Another agent's notification is 404.",
        request=None,
        responses={200: NotificationSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        notification = notification_mark_read(notification_id=pk, user=request.user)
        return Response(NotificationSerializer(notification).data)


class NotificationReadAllApi(APIView):
    authentication_classes = AUTHENTICATION

    @extend_schema(
        operation_id="notifications_read_all",
        summary="Mark all your notifications read",
        request=None,
        responses={200: NotificationsReadSerializer, **ERRORS},
    )
    def post(self, request):
        marked = notifications_mark_all_read(user=request.user)
        return Response({"marked": marked, "unread_count": selectors.notification_unread_count(user_id=request.user.pk)})


urlpatterns = [
    path("notifications/", NotificationListApi.as_view(), name="notification-list"),
    path("notifications/read/", NotificationReadAllApi.as_view(), name="notifications-read"),
    path("notifications/<int:pk>/read/", NotificationReadApi.as_view(), name="notification-read"),
]
