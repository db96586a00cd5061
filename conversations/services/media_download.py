"""Inbound media, kept: each media item of a customer's message is downloaded from Plivo in the
background, stored in Parley's storage and typed from its bytes.

Plivo's media URLs need the account's credentials, carry no file extension and do not last
forever, so the thread must not depend on them. `inbound_media_register()` runs as the message
is stored (a `MediaFile` per item, pending); the outbound worker's chore claims due downloads
(`inbound_media_claim_due`, SKIP LOCKED) and runs `inbound_media_download()` for each: bounded
size, retries with backoff, and a live `message.updated` when a file is stored or given up on.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import tempfile
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from conversations import events
from conversations.background import backoff_seconds
from conversations.models import MediaFile, Message
from conversations.services.attachments import SNIFF_BYTES, UPLOAD_EXTENSIONS, content_type_sniff, human_size

logger = logging.getLogger(__name__)

State = MediaFile.State
CHUNK_BYTES = 64 * 1024
SPOOL_IN_MEMORY_BYTES = 1024 * 1024
RETRY_CAP_SECONDS = 6 * 3600
# Plivo's own media hosts get the account's credentials; any other host gets none.
PLIVO_MEDIA_HOSTS = ("media.plivo.com", "api.plivo.com")


class DownloadError(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def inbound_media_register(*, message: Message) -> None:
    """One pending download per media item of a just-stored inbound message; its `media` then
    points at them (no URL until stored). Call inside the transaction that stored it."""
    if not message.media:
        return
    now = timezone.now()
    files = [
        MediaFile(direction=MediaFile.Direction.INBOUND, state=State.PENDING, message=message, position=position,
                  source_url=item["url"], content_type=(item.get("content_type") or "")[:100], next_attempt_at=now)
        for position, item in enumerate(message.media)
    ]
    MediaFile.objects.bulk_create(files)
    if any(media.pk is None for media in files):  # backends that return no ids from bulk_create
        files = list(MediaFile.objects.filter(message=message).order_by("position"))
    message.media = [media.as_media_item() for media in files]
    Message.objects.filter(pk=message.pk).update(media=message.media)


def inbound_media_claim_due(*, limit: int) -> list[MediaFile]:
    """Take up to `limit` due downloads (also those whose claim expired: a worker died during
    them), each counted as an attempt; racing workers never take the same one."""
    now = timezone.now()
    lease = timedelta(seconds=settings.INBOUND_MEDIA_TIMEOUT_SECONDS * 3 + 60)
    due = MediaFile.objects.filter(direction=MediaFile.Direction.INBOUND, state__in=[State.PENDING, State.DOWNLOADING],
                                   next_attempt_at__lte=now)
    if not due.exists():  # the usual answer, every second: no transaction (and no lock held) for it
        return []
    with transaction.atomic():
        pks = list(due.order_by("next_attempt_at", "pk").select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
        if not pks:
            return []
        MediaFile.objects.filter(pk__in=pks).update(state=State.DOWNLOADING, attempts=F("attempts") + 1,
                                                    next_attempt_at=now + lease, updated_at=now)
    return list(MediaFile.objects.filter(pk__in=pks, state=State.DOWNLOADING))


def inbound_media_download(media: MediaFile) -> str:
    """One attempt at a claimed download; returns the state it left the file in."""
    try:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as spool:
            head, declared = _fetch(media.source_url, into=spool)
            content_type = content_type_sniff(head, declared=declared or media.content_type)
            size = spool.tell()
            spool.seek(0)
            return _stored(media, spool, content_type=content_type, size=size)
    except DownloadError as exc:
        return _failed(media, str(exc), permanent=exc.permanent)


def _sends_credentials(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    configured = urlsplit(settings.PLIVO_API_BASE_URL)
    return host in PLIVO_MEDIA_HOSTS or host.endswith(".plivo.com") or (
        parts.netloc.lower() == configured.netloc.lower() and parts.scheme == configured.scheme)


def _fetch(url: str, *, into) -> tuple[bytes, str]:
    """Stream `url` into the file `into`, at most INBOUND_MEDIA_MAX_BYTES; (first bytes, the
    response's content type). Raises `DownloadError`."""
    limit = settings.INBOUND_MEDIA_MAX_BYTES
    auth = (settings.PLIVO_AUTH_ID, settings.PLIVO_AUTH_TOKEN) if _sends_credentials(url) else None
    try:
        # requests drops the credentials if a redirect leaves the host.
        with requests.get(url, auth=auth, stream=True, timeout=(5, settings.INBOUND_MEDIA_TIMEOUT_SECONDS)) as response:
            if response.status_code != 200:
                permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429)
                raise DownloadError(f"Plivo answered HTTP {response.status_code}", permanent=permanent)
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > limit:
                raise DownloadError(f"The file is {human_size(int(length))}; Parley keeps files up to {human_size(limit)}.",
                                    permanent=True)
            received, head = 0, b""
            for chunk in response.iter_content(CHUNK_BYTES):
                received += len(chunk)
                if received > limit:
                    raise DownloadError(f"The file is larger than {human_size(limit)}, the most Parley keeps.", permanent=True)
                if len(head) < SNIFF_BYTES:
                    head += chunk[:SNIFF_BYTES - len(head)]
                into.write(chunk)
            return head, response.headers.get("Content-Type", "")
    except requests.RequestException as exc:
        raise DownloadError(f"The download failed ({type(exc).__name__})") from None


def _stored(media: MediaFile, spool, *, content_type: str, size: int) -> str:
    extension = UPLOAD_EXTENSIONS.get(content_type) or (mimetypes.guess_extension(content_type) or ".bin").lstrip(".")
    if size == 0:
        return _failed(media, "Plivo sent an empty file.", permanent=True)
    kind = content_type.split("/")[0] if content_type.split("/")[0] in ("image", "video", "audio") else "file"
    media.name = f"{kind}-{media.message_id}-{media.position + 1}.{extension}"
    media.file.save(f"inbound/{os.urandom(12).hex()}.{extension}", File(spool), save=False)
    with transaction.atomic():
        kept = MediaFile.objects.filter(pk=media.pk, state=State.DOWNLOADING, attempts=media.attempts).update(
            state=State.STORED, file=media.file.name, name=media.name, content_type=content_type[:100], size=size,
            next_attempt_at=None, last_error="", updated_at=timezone.now())
        if not kept or not _message_media_refresh(media.message_id):
            # Another claim took it over, or the message was erased meanwhile.
            transaction.on_commit(lambda: media.file.delete(save=False))
            return "lost"
    return State.STORED


def _failed(media: MediaFile, reason: str, *, permanent: bool) -> str:
    give_up = permanent or media.attempts >= settings.INBOUND_MEDIA_MAX_ATTEMPTS
    now = timezone.now()
    state = State.FAILED if give_up else State.PENDING
    later = None if give_up else now + timedelta(seconds=backoff_seconds(
        media.attempts, base=settings.INBOUND_MEDIA_RETRY_BASE_SECONDS, cap=RETRY_CAP_SECONDS, jitter=True))
    logger.info("inbound media %s: %s (%s)", media.pk, reason, "given up" if give_up else f"attempt {media.attempts}")
    with transaction.atomic():
        MediaFile.objects.filter(pk=media.pk, state=State.DOWNLOADING, attempts=media.attempts).update(
            state=state, next_attempt_at=later, last_error=reason[:300], updated_at=now)
        if give_up:
            _message_media_refresh(media.message_id)
    return state


def _message_media_refresh(message_id: int) -> bool:
    """Rewrite the message's `media` from its files and tell every inbox; False if the message
    is gone or erased."""
    message = Message.objects.select_for_update(of=("self",)).select_related("sent_by", "reply_to").filter(
        pk=message_id, erased_at__isnull=True).first()
    if message is None:
        return False
    message.media = [media.as_media_item() for media in MediaFile.objects.filter(message_id=message_id).order_by("position")]
    message.save(update_fields=["media", "updated_at"])
    events.broadcast_on_commit(events.message_updated_event(message))
    return True
