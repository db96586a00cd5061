import logging

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from webhooks.models import SignatureFamilyTally

logger = logging.getLogger(__name__)


def signature_family_record(*, endpoint: str, family: str) -> None:
    """Count one accepted webhook under its signature family (one UPDATE in the common case)."""
    now = timezone.now()
    tally = SignatureFamilyTally.objects.filter(endpoint=endpoint, family=family)
    if tally.update(count=F("count") + 1, last_seen_at=now):
        return
    try:
        with transaction.atomic():
            SignatureFamilyTally.objects.create(endpoint=endpoint, family=family, count=1, first_seen_at=now, last_seen_at=now)
        logger.info("first Plivo webhook to %s signed with %s", endpoint, family)
    except IntegrityError:  # created concurrently
        tally.update(count=F("count") + 1, last_seen_at=now)
