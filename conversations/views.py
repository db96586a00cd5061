from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse
from django.shortcuts import get_object_or_404, render

from conversations.models import MediaFile
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
        # How long an upload nobody sent is kept: a tray restored after a reload drops older ones.
        "attachment_retention_hours": settings.ATTACHMENT_UNSENT_RETENTION_HOURS,
    }
    return render(request, "conversations/inbox.html",
                  {"bootstrap": bootstrap, "can_manage_campaigns": user_is_campaign_manager(request.user)})


INLINE_MEDIA_PREFIXES = ("image/", "video/", "audio/")


@login_required
def media_file(request, media_id: int):
    """A stored attachment or inbound media file, for agents only: the one place a browser loads
    conversation media from (the CSP allows no other host)."""
    if not user_is_agent(request.user):
        raise PermissionDenied("Only Parley agents can open conversation media.")
    media = get_object_or_404(MediaFile, pk=media_id, state=MediaFile.State.STORED)
    inline = media.content_type.startswith(INLINE_MEDIA_PREFIXES)
    response = FileResponse(media.file.open("rb"), content_type=media.content_type or "application/octet-stream",
                            as_attachment=not inline, filename=media.name or f"attachment-{media.pk}")
    # Opened on its own, a file runs nothing and reaches nothing (a PDF or text a customer sent).
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response
