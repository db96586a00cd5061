"""Liveness (`/healthz/`: the process answers) and readiness (`/readyz/`: it can do its job).

A load balancer or orchestrator takes a process out of rotation on a 503 from `/readyz/`; the
figures in its body tell an operator why. Liveness stays free of I/O so a database outage never
gets healthy processes restarted.
"""

import time

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from webhooks.models import WebhookReceipt

CHECK_TIMEOUT_SECONDS = 2


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def _timed(check) -> dict:
    started = time.monotonic()
    try:
        result = {"ok": True, **(check() or {})}
    except (DatabaseError, redis.RedisError, OSError) as exc:
        result = {"ok": False, "error": (str(exc).strip().splitlines() or [type(exc).__name__])[0]}
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis():
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=CHECK_TIMEOUT_SECONDS, socket_connect_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def _webhook_receipts():
    """A receipt waiting longer than the threshold means no webhook worker is applying them:
    Plivo still gets its 200s, but nothing reaches the inbox."""
    waiting = WebhookReceipt.objects.pending().filter(attempts=0)
    oldest = waiting.order_by("id").values_list("received_at", flat=True).first()
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    limit = settings.READYZ_MAX_RECEIPT_AGE_SECONDS
    return {
        "ok": age <= limit,
        "waiting": waiting.count(),
        "failing": WebhookReceipt.objects.failing().count(),
        "oldest_waiting_seconds": round(age, 1),
        "max_age_seconds": limit,
    }


def readyz(request):
    checks = {"database": _timed(_database)}
    if settings.REDIS_URL:
        checks["redis"] = _timed(_redis)
    if checks["database"]["ok"]:
        checks["webhook_receipts"] = _timed(_webhook_receipts)
    ready = all(check["ok"] for check in checks.values())
    response = JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)
    response["Cache-Control"] = "no-store"
    return response
