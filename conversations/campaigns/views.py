"""The Campaigns page (next to the inbox). Everything on it is loaded and kept live by
static/js/campaigns.js through the campaigns API and the inbox event socket."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from conversations.campaigns.lifecycle import rate_allowed
from conversations.campaigns.recipients import MAX_BATCH, MAX_CSV_ROWS
from conversations.permissions import user_is_campaign_manager


@login_required
def campaigns_page(request, campaign_id: int | None = None):
    if not user_is_campaign_manager(request.user):
        raise PermissionDenied("Only staff and members of the Campaign managers group can open campaigns.")
    bootstrap = {
        "campaign_id": campaign_id,
        "batch_size": MAX_BATCH,
        "max_rows": MAX_CSV_ROWS,
        "rate_allowed": {channel: round(rate_allowed(channel), 2) for channel in ("whatsapp", "sms")},
        "quiet_hours": settings.CAMPAIGN_QUIET_HOURS,
    }
    return render(request, "conversations/campaigns.html", {"bootstrap": bootstrap})
