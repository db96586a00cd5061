from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import timezone

from conversations.permissions import agent_list, user_is_agent
from conversations.reports.hours import zone_check
from conversations.reports.models import ReportSettings
from conversations.selectors import label_list

DEFAULT_RANGE_DAYS = 28


@login_required
def reports_page(request):
    """The Reports page; static/js/reports.js loads the summary and draws its charts and tables."""
    if not user_is_agent(request.user):
        raise PermissionDenied("Only Parley agents can open the reports.")
    zone_name = ReportSettings.load().time_zone
    today = timezone.now().astimezone(zone_check(zone_name)).date()
    bootstrap = {
        "time_zone": zone_name,
        "from": (today - timedelta(days=DEFAULT_RANGE_DAYS - 1)).isoformat(),
        "to": today.isoformat(),
        "agents": [{"id": user.pk, "name": user.get_full_name() or user.username} for user in agent_list()],
        "labels": [{"id": label.pk, "name": label.name} for label in label_list()],
    }
    return render(request, "conversations/reports.html", {"bootstrap": bootstrap})
