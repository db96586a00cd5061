from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from conversations.permissions import user_is_agent, user_is_campaign_manager
from conversations.selectors import inbox_event_head


@login_required
def inbox(request, conversation_id: int | None = None):
    """The agent inbox page. Everything on it is loaded and kept live by static/js/inbox.js."""
    if not user_is_agent(request.user):
        raise PermissionDenied("Only Parley agents can open the inbox.")
    bootstrap = {
        "user": {
            "id": request.user.pk,
            "username": request.user.username,
            "name": request.user.get_full_name() or request.user.username,
            "is_staff": request.user.is_staff or request.user.is_superuser,
        },
        # Read before the page loads its data: replaying from here misses nothing.
        "event_cursor": inbox_event_head(),
        "conversation_id": conversation_id,
        "numbers": {"whatsapp": settings.PLIVO_WHATSAPP_NUMBER, "sms": settings.PLIVO_SMS_NUMBER},
    }
    return render(request, "conversations/inbox.html",
                  {"bootstrap": bootstrap, "can_manage_campaigns": user_is_campaign_manager(request.user)})
