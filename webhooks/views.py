"""Plivo's two callbacks. Each answers 200 with an empty body only after the signed callback
is committed as a `WebhookReceipt` (also for duplicates, so Plivo stops retrying), 400 for a
signed payload we cannot store, 403 for a bad signature and 503 while the database is
unavailable. A webhook worker applies receipts to the inbox (`webhooks.services.receipts_apply`)."""

import logging

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from conversations.models import MessageStatusEvent
from messaging_site.errors import ApplicationError
from webhooks.bodies import storable_text
from webhooks.decorators import database_unavailable_as_503, plivo_signature_required
from webhooks.models import WebhookReceipt
from webhooks.payloads import InboundPayload, StatusReport, payload_refused
from webhooks.services import receipt_store

logger = logging.getLogger(__name__)


def _parsed(request, parse):
    """`parse()` of a signed body; a refusal (400, rendered by ApplicationErrorMiddleware) is logged."""
    try:
        if request.plivo_params.error:
            raise payload_refused(request.plivo_params.error)
        return parse()
    except ApplicationError as error:
        logger.warning("refused signed Plivo webhook %s: %s", request.path, error.message)
        raise


@csrf_exempt
@require_POST
@database_unavailable_as_503
@plivo_signature_required
def plivo_message(request):
    payload = _parsed(request, lambda: InboundPayload.from_params(request.plivo_params.params))
    receipt_store(kind=WebhookReceipt.Kind.MESSAGE, dedupe_key=payload.message_uuid, params=request.plivo_params.params)
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
@database_unavailable_as_503
@plivo_signature_required
def plivo_status(request):
    ref = storable_text(request.GET.get("ref", ""))
    report = _parsed(request, lambda: StatusReport.from_params(request.plivo_params.params, ref=ref))
    receipt_store(
        kind=WebhookReceipt.Kind.STATUS,
        dedupe_key=MessageStatusEvent.make_dedupe_key(report.message_uuid, report.status, report.sequence),
        params=request.plivo_params.params,
        ref=ref[:32],
    )
    return HttpResponse(status=200)
