import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from conversations import events
from conversations.background import backoff_seconds
from conversations.services.delivery_reports import status_report_apply
from conversations.services.inbound import message_receive
from conversations.sql import insert_row
from webhooks.models import SignatureFamilyTally, SignatureNonce, WebhookReceipt
from webhooks.payloads import InboundPayload, StatusReport

logger = logging.getLogger(__name__)

# --- receipts: what the webhook views commit before answering 200 ---------------------------

# PostgreSQL NOTIFY channel that wakes webhook workers in other processes; `receipt_arrived`
# wakes one in this process (the embedded worker, with SQLite too).
RECEIPT_CHANNEL = "parley_webhook_receipts"
receipt_arrived = threading.Event()

# Conflicts a receipt can hit while being applied that resolve by themselves: lock_timeout,
# deadlock (two workers touching the same conversations in another order), serialization.
TRANSIENT_SQLSTATES = frozenset({"55P03", "40P01", "40001"})
TRANSIENT_RETRY_SECONDS = 2
MAX_BACKOFF_SECONDS = 3600


def receipt_store(*, kind: str, dedupe_key: str, params: dict, ref: str = "") -> bool:
    """Commit one signed callback (False: Plivo already delivered it) and wake a worker."""
    receipt = WebhookReceipt(kind=kind, dedupe_key=dedupe_key, params=params, ref=ref or "")
    if not insert_row(receipt, unless_conflict_on="(kind, dedupe_key)", notify=RECEIPT_CHANNEL):
        return False
    receipt_arrived.set()
    return True


def receipt_apply(receipt: WebhookReceipt, *, batch: events.BroadcastBatch | None = None) -> None:
    """Turn one receipt into its message or status change (idempotent: the domain dedupes)."""
    if receipt.kind == WebhookReceipt.Kind.MESSAGE:
        message_receive(payload=InboundPayload.from_params(receipt.params), received_at=receipt.received_at, batch=batch)
    else:
        report = StatusReport.from_params(receipt.params, ref=receipt.ref or None)
        status_report_apply(report=report, received_at=receipt.received_at, batch=batch)


def receipts_apply(*, limit: int = 50) -> int:
    """Apply up to `limit` due receipts, oldest first, in one transaction; how many were taken.

    Several workers share the queue (`SKIP LOCKED`). Each receipt runs in its own savepoint:
    one that fails waits out a backoff and is retried, visible in the admin, never dropped. A
    lost database connection rolls the whole batch back, to be applied again later.
    """
    now = timezone.now()
    broadcasts = events.BroadcastBatch()  # every applied receipt's events, in one push
    with transaction.atomic():
        batch = list(WebhookReceipt.objects.due(now).select_for_update(skip_locked=True).order_by("id")[:limit])
        applied = []
        for receipt in batch:
            try:
                with transaction.atomic():
                    receipt_apply(receipt, batch=broadcasts)
            except (OperationalError, InterfaceError) as exc:
                if getattr(exc.__cause__, "sqlstate", None) not in TRANSIENT_SQLSTATES:
                    raise  # the connection is gone: the whole batch is applied again later
                logger.info("webhook receipt %s postponed: %s", receipt.pk, str(exc).strip().splitlines()[0])
                receipt.next_attempt_at = now + timedelta(seconds=TRANSIENT_RETRY_SECONDS)
                receipt.save(update_fields=["next_attempt_at"])
            except Exception as exc:  # this receipt's own problem (a bug, a value the database refuses)
                receipt.attempts += 1
                backoff = backoff_seconds(receipt.attempts, base=5, cap=MAX_BACKOFF_SECONDS)
                receipt.next_attempt_at = now + timedelta(seconds=backoff)
                receipt.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                receipt.save(update_fields=["attempts", "next_attempt_at", "last_error"])
                logger.exception("webhook receipt %s could not be applied (attempt %d; next in %d s)",
                                 receipt.pk, receipt.attempts, backoff)
            else:
                applied.append(receipt.pk)
        if applied:
            WebhookReceipt.objects.filter(pk__in=applied).update(applied_at=now, next_attempt_at=None, last_error="")
        broadcasts.send_on_commit()
    return len(batch)


def receipts_prune(*, older_than: timedelta, batch: int = 5000) -> int:
    """Delete applied receipts older than `older_than`. Safe at any age: a late retry of a
    pruned callback is stored again, and applying it again changes nothing."""
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        ids = list(WebhookReceipt.objects.filter(applied_at__lt=cutoff).values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += WebhookReceipt.objects.filter(pk__in=ids).delete()[0]


# --- V2 nonces ---------------------------------------------------------------------------------

def v2_nonce_claim(*, nonce: str, request_digest: str) -> bool:
    """Whether a V2-signed request may go on: its nonce is new, or came before with this very
    request (Plivo retrying it). The unique constraint decides between concurrent copies."""
    if insert_row(SignatureNonce(nonce=nonce, request_digest=request_digest), unless_conflict_on="(nonce)"):
        return True
    return SignatureNonce.objects.filter(nonce=nonce, request_digest=request_digest).exists()


def v2_nonces_prune(*, older_than: timedelta, batch: int = 5000) -> int:
    """Forget V2 nonces first seen before `older_than`; a pair that old could be replayed again
    (README: switch V2 off once Plivo sends V3)."""
    cutoff = timezone.now() - older_than
    deleted = 0
    while ids := list(SignatureNonce.objects.filter(first_seen_at__lt=cutoff).values_list("pk", flat=True)[:batch]):
        deleted += SignatureNonce.objects.filter(pk__in=ids).delete()[0]
    return deleted


# --- signature family tallies ------------------------------------------------------------------

# Counts are kept per process and written at most every WEBHOOK_SIGNATURE_TALLY_FLUSH_SECONDS
# (and at once for a family this process has not written yet): one UPDATE per request would
# be a tenth of a webhook's cost. A crash loses at most that many seconds of counts.
DEFAULT_FLUSH_SECONDS = 10.0
_lock = threading.Lock()
_pending: dict[tuple[str, str], int] = {}
_written: set[tuple[str, str]] = set()
_last_flush = 0.0


def signature_family_record(*, endpoint: str, family: str) -> None:
    """Count one accepted webhook under the signature header family it used."""
    global _last_flush
    key = (endpoint, family)
    interval = getattr(settings, "WEBHOOK_SIGNATURE_TALLY_FLUSH_SECONDS", DEFAULT_FLUSH_SECONDS)
    with _lock:
        _pending[key] = _pending.get(key, 0) + 1
        now = time.monotonic()
        if key in _written and now - _last_flush < interval:
            return
        _last_flush = now
    signature_family_flush()


def signature_family_flush() -> None:
    """Write the counts this process holds."""
    with _lock:
        batch = dict(_pending)
        _pending.clear()
        _written.update(batch)
    try:
        for (batch_endpoint, batch_family), count in batch.items():
            _tally_add(endpoint=batch_endpoint, family=batch_family, count=count)
    except Exception:
        with _lock:  # keep the counts for the next flush; the caller sees the error (503)
            for batch_key, count in batch.items():
                _pending[batch_key] = _pending.get(batch_key, 0) + count
        raise


def _tally_add(*, endpoint: str, family: str, count: int) -> None:
    now = timezone.now()
    tally = SignatureFamilyTally.objects.filter(endpoint=endpoint, family=family)
    if tally.update(count=F("count") + count, last_seen_at=now):
        return
    try:
        with transaction.atomic():
            SignatureFamilyTally.objects.create(endpoint=endpoint, family=family, count=count, first_seen_at=now, last_seen_at=now)
        logger.info("first Plivo webhook to %s signed with %s", endpoint, family)
    except IntegrityError:  # created concurrently
        tally.update(count=F("count") + count, last_seen_at=now)
