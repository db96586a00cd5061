"""The local Plivo simulator's pages: Plivo's Message API (the fake, served to the SDK) and the
customer phone. Mounted only with DEBUG and PLIVO_SIMULATOR (messaging_site/urls.py)."""

import asyncio
import json

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from conversations.models import Conversation
from messaging_site.errors import ApplicationError
from simulator import services
from simulator.fake_plivo_media import RawBody

LONG_POLL_SECONDS = 20
LONG_POLL_TICK_SECONDS = 0.15


@csrf_exempt
def plivo_api(request, path):
    """Plivo's REST API for the SDK: Basic auth and JSON bodies, as at api.plivo.com."""
    status, answer = services.simulator_api().handle(
        request.method, "/" + path, request.headers.get("Authorization"), request.body,
        content_type=request.headers.get("Content-Type", ""), query=request.META.get("QUERY_STRING", ""),
    )
    if isinstance(answer, RawBody):
        return HttpResponse(answer.data, content_type=answer.content_type, status=status)
    return JsonResponse(answer, status=status)


@require_GET
@ensure_csrf_cookie
def phone(request):
    conversations = (
        Conversation.objects.select_related("contact").order_by("contact__display_name", "contact__phone", "channel")[:100]
    )
    contacts = [
        {"phone": c.contact.phone, "name": c.contact.display_name, "channel": c.channel} for c in conversations
    ]
    return render(request, "simulator/phone.html", {
        "contacts": contacts,
        "special_numbers": services.special_numbers(),
        "whatsapp_number": settings.PLIVO_WHATSAPP_NUMBER,
        "sms_number": settings.PLIVO_SMS_NUMBER,
        "webhook_url": services.inbound_webhook_url(),
        "api_base_url": settings.PLIVO_API_BASE_URL,
    })


@require_POST
async def send(request):
    """The customer sends something: Parley gets it as a signed Plivo webhook."""
    try:
        data = json.loads(request.body or b"{}")
        if not isinstance(data, dict):
            raise ValueError
    except ValueError:
        raise ApplicationError("The body must be a JSON object.", field="body", status=400) from None
    message = services.customer_message_build(
        phone=str(data.get("phone") or ""),
        channel=str(data.get("channel") or ""),
        text=str(data.get("text") or ""),
        media_url=str(data.get("media_url") or ""),
        reply_to=str(data.get("reply_to") or ""),
        button=data.get("button"),
        list_row=data.get("list_row"),
        profile_name=str(data.get("profile_name") or ""),
        media_file=data.get("media_file"),
    )
    # Off the event loop: Parley's webhook is usually served by this very process.
    await asyncio.to_thread(services.customer_message_send, message)
    return JsonResponse({"message": message.as_wire()}, status=201 if message.webhook_status == 200 else 202)


@require_GET
async def thread(request):
    """Both sides of one chat. With `since` (the last etag) it waits until something changes.
    With `visible=1` the customer is looking at the chat: delivered WhatsApp messages get read."""
    phone = services.customer_phone_normalize(request.GET.get("phone", ""))
    channel = request.GET.get("channel", "whatsapp")
    if channel not in services.CHANNELS:
        raise ApplicationError("Channel must be whatsapp or sms.", field="channel", status=400)
    since = request.GET.get("since", "")
    visible = request.GET.get("visible") == "1"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (LONG_POLL_SECONDS if since else 0)
    while True:
        if visible and channel == "whatsapp":
            services.customer_mark_read(phone=phone)
        if services.customer_thread_etag(phone=phone, channel=channel) != since or loop.time() >= deadline:
            break
        await asyncio.sleep(LONG_POLL_TICK_SECONDS)
    snapshot = await sync_to_async(services.customer_thread)(phone=phone, channel=channel)
    return JsonResponse(snapshot)


@require_GET
def phone_media(request, media_id):
    """A file the fake Plivo keeps (a customer's picture, an agent's upload), for the phone page,
    which has no Plivo credentials."""
    media = services.simulator_api().media.get(media_id)
    if media is None:
        raise Http404("No such media.")
    response = HttpResponse(media.data, content_type=media.content_type)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
