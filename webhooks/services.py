import logging
import threading
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from webhooks.models import SignatureFamilyTally

logger = logging.getLogger(__name__)

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
