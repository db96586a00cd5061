"""The report: what a support lead asks every Monday, for a date range in the team's time zone."""

import re
from datetime import date

from django.contrib.auth import get_user_model
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.api.schema import ERRORS
from conversations.models import Channel
from conversations.reports.summary import ReportFilter, report_summary
from conversations.selectors import label_for_filter
from messaging_site.errors import ApplicationError

MAX_RANGE_DAYS = 400
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _percentiles(name):
    return inline_serializer(name, {"median": serializers.FloatField(allow_null=True),
                                    "p90": serializers.FloatField(allow_null=True)})


COUNTS = {
    name: serializers.IntegerField()
    for name in ("conversations_opened", "conversations_resolved", "messages_received", "messages_sent",
                 "messages_delivered", "messages_read", "messages_failed", "opt_outs")
}
SUMMARY = inline_serializer("ReportSummary", {
    **COUNTS,
    "delivery_rate": serializers.FloatField(allow_null=True, help_text="delivered ÷ sent (null when nothing was sent)"),
    "read_rate": serializers.FloatField(allow_null=True, help_text="read ÷ delivered"),
    "first_response_seconds": _percentiles("FirstResponseSeconds"),
    "resolution_seconds": _percentiles("ResolutionSeconds"),
    "business_hours": serializers.BooleanField(),
    "by_day": inline_serializer("ReportDay", {"date": serializers.DateField(), **COUNTS}, many=True),
    "by_agent": inline_serializer("ReportAgent", {
        "agent_id": serializers.IntegerField(),
        "name": serializers.CharField(),
        "conversations_handled": serializers.IntegerField(),
        "replies_sent": serializers.IntegerField(),
        "first_response_seconds": _percentiles("AgentFirstResponseSeconds"),
        "resolution_seconds": _percentiles("AgentResolutionSeconds"),
    }, many=True),
    "by_label": inline_serializer("ReportLabel", {
        "label_id": serializers.IntegerField(), "name": serializers.CharField(), "colour": serializers.CharField(),
        **{name: field for name, field in COUNTS.items() if name != "opt_outs"},
    }, many=True),
    "by_hour_of_week": inline_serializer("ReportWeekday", {
        "weekday": serializers.CharField(), "hours": serializers.ListField(child=serializers.IntegerField()),
    }, many=True),
    "failure_reasons": inline_serializer("ReportFailureReason", {
        "error_code": serializers.CharField(), "reason": serializers.CharField(),
        "explanation": serializers.CharField(), "count": serializers.IntegerField(),
    }, many=True),
})


def _date(params, name: str) -> date:
    text = params.get(name, "")
    if not text:
        raise ApplicationError(f"Give {name}=YYYY-MM-DD.", field=name, code="required", status=400)
    try:
        if not DATE.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ApplicationError(f'{name} must be a date as YYYY-MM-DD, not "{text[:40]}".', field=name,
                               code="invalid_date", status=400) from None


def report_filter_from(params) -> ReportFilter:
    date_from, date_to = _date(params, "from"), _date(params, "to")
    if date_to < date_from:
        raise ApplicationError("to is before from.", field="to", code="invalid_range", status=400)
    if (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise ApplicationError(f"A report covers at most {MAX_RANGE_DAYS} days.", field="to", code="range_too_long",
                               status=400)
    channel = params.get("channel") or None
    if channel is not None and channel not in Channel.values:
        raise ApplicationError("channel must be whatsapp or sms.", field="channel", code="invalid_channel", status=400)
    agent_id = None
    if params.get("agent"):
        text = params["agent"]
        agent_id = int(text) if text.isdigit() and len(text) < 12 else None
        if agent_id is None or not get_user_model().objects.filter(pk=agent_id).exists():
            raise ApplicationError(f'No user has the id "{text[:40]}".', field="agent", code="unknown_agent", status=400)
    label_id = None
    if params.get("label"):
        label_id = label_for_filter(params["label"]).pk
    business_hours = params.get("business_hours", "").lower() in ("1", "true", "yes")
    return ReportFilter(date_from=date_from, date_to=date_to, channel=channel, agent_id=agent_id, label_id=label_id,
                        business_hours=business_hours)


class ReportSummaryApi(APIView):
    @extend_schema(
        operation_id="reports_summary",
        summary="The report for a date range",
        description=(
            "Days are the team's (time zone set by staff in the admin, Report settings); `from` and `to` are "
            "included. Conversations opened: episodes begun (a customer's message when none was open, or an "
            "agent reopening). Resolved: episodes resolved. Messages sent: outbound messages created (notes and "
            "activity never count); delivered includes read; failed: failed, undelivered or rejected. First "
            "response: from the episode's start to the first agent reply, over episodes opened in the range; "
            "resolution: from the start to resolution, over episodes resolved in the range. Medians and 90th "
            "percentiles interpolate (as PostgreSQL's percentile_cont). `business_hours=true` counts only the "
            "team's business hours. Agent and label filters use each conversation's current assignee and "
            "labels; replies count for their sender. Staff and agents may read it."
        ),
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, required=True, description="First day, YYYY-MM-DD"),
            OpenApiParameter("to", OpenApiTypes.DATE, required=True, description="Last day, YYYY-MM-DD (included)"),
            OpenApiParameter("channel", OpenApiTypes.STR, enum=Channel.values, description="Only this channel"),
            OpenApiParameter("agent", OpenApiTypes.INT, description="Only this agent (user id)"),
            OpenApiParameter("label", OpenApiTypes.STR, description="Only conversations with this label (its name)"),
            OpenApiParameter("business_hours", OpenApiTypes.BOOL, description="Durations in business hours only"),
        ],
        responses={200: SUMMARY, **ERRORS},
    )
    def get(self, request):
        return Response(report_summary(report_filter_from(request.query_params)))


urlpatterns = [path("reports/summary/", ReportSummaryApi.as_view(), name="reports-summary")]
