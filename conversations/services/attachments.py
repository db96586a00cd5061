"""Attachments: what each channel can carry, the content type read from a file's bytes, storing
an agent's upload, and checking attachments against a channel before a message is queued.

The limits are WhatsApp's (Meta's media limits) and Plivo's for MMS, narrowed to the types
Plivo's Media API takes (the SDK's `media.upload` refuses other file extensions).
"""

from __future__ import annotations

import logging
import os
import re
from datetime import timedelta

import filetype
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from conversations.models import Channel, MediaFile
from messaging_site.errors import ApplicationError

logger = logging.getLogger(__name__)

MB = 1024 * 1024
# Per channel: category -> (largest file in bytes, content types).
CHANNEL_MEDIA_RULES = {
    Channel.WHATSAPP: {
        "image": (5 * MB, {"image/jpeg", "image/png"}),
        "video": (16 * MB, {"video/mp4", "video/3gpp"}),
        "audio": (16 * MB, {"audio/mpeg", "audio/ogg"}),
        "document": (100 * MB, {"application/pdf", "text/plain", "text/csv", "application/vnd.ms-excel",
                                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}),
    },
    Channel.SMS: {  # MMS through Plivo: 5 MB in all per message
        "image": (5 * MB, {"image/jpeg", "image/png", "image/gif"}),
        "video": (5 * MB, {"video/mp4", "video/3gpp"}),
        "audio": (5 * MB, {"audio/mpeg", "audio/ogg", "audio/wav"}),
        "document": (5 * MB, {"application/pdf", "text/plain", "text/csv", "text/vcard"}),
    },
}
MMS_TOTAL_MAX_BYTES = 5 * MB
# The file extension Plivo's SDK derives the upload's content type from.
UPLOAD_EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "video/mp4": "mp4", "video/3gpp": "3gpp",
    "audio/mpeg": "mpeg", "audio/ogg": "ogg", "audio/wav": "wav", "text/vcard": "vcard", "text/csv": "csv",
    "text/plain": "plain", "application/pdf": "pdf", "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
TEXT_TYPES = {"text/plain", "text/csv", "text/vcard"}
# What `filetype` names differently from the types above.
SNIFFED_ALIASES = {"audio/x-wav": "audio/wav", "audio/mp3": "audio/mpeg", "audio/x-ogg": "audio/ogg",
                   "application/ogg": "audio/ogg", "text/x-vcard": "text/vcard", "audio/x-mpeg": "audio/mpeg"}
SNIFF_BYTES = 8192
OLE_COMPOUND_FILE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
CATEGORY_NAMES = {"image": "Images", "video": "Videos", "audio": "Audio files", "document": "Documents"}


def human_size(size: int) -> str:
    if size >= MB:
        return f"{size / MB:.1f} MB".replace(".0 MB", " MB")
    return f"{max(1, round(size / 1024))} KB"


def content_type_sniff(head: bytes, *, declared: str = "") -> str:
    """The real content type of a file starting with `head`: from its magic bytes; a text
    type only when it was declared so and the bytes are text; else application/octet-stream."""
    declared = (declared or "").split(";")[0].strip().lower()
    declared = SNIFFED_ALIASES.get(declared, declared)
    sniffed = filetype.guess_mime(head) if head else None
    if sniffed:
        sniffed = SNIFFED_ALIASES.get(sniffed, sniffed)
        # An .mp4 with only a sound track is sent as audio by some phones; keep their word.
        if sniffed == "video/mp4" and declared.startswith("audio/"):
            return declared
        return sniffed
    if declared == "application/vnd.ms-excel" and head.startswith(OLE_COMPOUND_FILE):
        return declared  # `filetype` names no type for the old Office container
    if declared in TEXT_TYPES or declared.startswith("text/"):
        if b"\x00" not in head:
            try:
                head.decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.start < len(head) - 4:  # a multi-byte character cut at the end is still text
                    return "application/octet-stream"
            return declared if declared in TEXT_TYPES else "text/plain"
    return "application/octet-stream"


def category_of(content_type: str) -> str:
    for rules in CHANNEL_MEDIA_RULES.values():
        for category, (_, types) in rules.items():
            if content_type in types:
                return category
    return "document"


def channel_refusal(*, channel: str, content_type: str, size: int, name: str = "") -> str | None:
    """Why `channel` cannot carry this file (plain language), or None."""
    label = "WhatsApp" if channel == Channel.WHATSAPP else "MMS"
    what = f"{name} ({content_type})" if name else content_type
    for category, (largest, types) in CHANNEL_MEDIA_RULES[channel].items():
        if content_type in types:
            if size > largest:
                return (f"{what} is {human_size(size)}; {label} takes {CATEGORY_NAMES[category].lower()} "
                        f"up to {human_size(largest)}.")
            return None
    allowed = ", ".join(sorted(UPLOAD_EXTENSIONS[t] for rules in [CHANNEL_MEDIA_RULES[channel]]
                               for _, types in rules.values() for t in types))
    return f"{label} cannot carry {what}. Allowed: {allowed}."


def _safe_name(name: str) -> str:
    name = os.path.basename((name or "").replace("\\", "/")).strip()
    name = re.sub(r"[\x00-\x1f\x7f]", "", name)[:200]
    return name or "attachment"


def attachment_create(*, upload: File, uploaded_by, channel: str | None = None) -> MediaFile:
    """Store an agent's file as an attachment not yet sent. Refused (nothing stored) when it is
    empty, larger than ATTACHMENT_MAX_BYTES, of a type no channel carries, or (with `channel`)
    one that channel cannot carry."""
    size = upload.size or 0
    name = _safe_name(getattr(upload, "name", ""))
    if size == 0:
        raise ApplicationError("The file is empty.", field="file", code="empty_file", status=400)
    if size > settings.ATTACHMENT_MAX_BYTES:
        raise ApplicationError(
            f"{name} is {human_size(size)}; attachments are at most {human_size(settings.ATTACHMENT_MAX_BYTES)}.",
            field="file", code="file_too_large", status=413)
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    content_type = content_type_sniff(head, declared=getattr(upload, "content_type", "") or "")
    if channel is not None:
        refusal = channel_refusal(channel=channel, content_type=content_type, size=size, name=name)
        if refusal:
            raise ApplicationError(refusal, field="file", code="unsupported_media", status=422)
    elif content_type not in UPLOAD_EXTENSIONS:
        raise ApplicationError(
            f"{name} ({content_type}) cannot be sent on WhatsApp or MMS. Send images, videos, audio, PDF, "
            "text, CSV or spreadsheets.", field="file", code="unsupported_media", status=422)
    media = MediaFile(direction=MediaFile.Direction.OUTBOUND, state=MediaFile.State.STORED, name=name,
                      content_type=content_type, size=size, uploaded_by=uploaded_by)
    media.file.save(f"{_stored_stem()}.{UPLOAD_EXTENSIONS.get(content_type, 'bin')}", upload, save=False)
    media.save()
    return media


def _stored_stem() -> str:
    return os.urandom(12).hex()


def attachments_for_send(*, channel: str, attachment_ids, sent_by) -> list[MediaFile]:
    """The attachments a send names, checked against `channel`: each one exists, was uploaded
    by the sender and is not part of a message yet. Raises `ApplicationError` naming the field."""
    ids = list(attachment_ids or [])
    for index, value in enumerate(ids):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApplicationError("Attachments are given by their id (a number).", code="invalid",
                                   field=f"attachments.{index}", status=400)
    if len(set(ids)) != len(ids):
        raise ApplicationError("The same attachment is named twice.", code="duplicate", field="attachments", status=400)
    found = {media.pk: media for media in MediaFile.objects.filter(
        pk__in=ids, direction=MediaFile.Direction.OUTBOUND)}
    files = []
    for index, attachment_id in enumerate(ids):
        media = found.get(attachment_id)
        if media is None or (sent_by is not None and media.uploaded_by_id != getattr(sent_by, "pk", None)):
            raise ApplicationError(f"There is no attachment {attachment_id} of yours; upload it with "
                                   "POST /api/v1/attachments/.", code="attachment_not_found",
                                   field=f"attachments.{index}", status=400)
        if media.message_id is not None:
            raise ApplicationError(f"Attachment {attachment_id} was already sent; upload the file again to "
                                   "send it once more.", code="attachment_used", field=f"attachments.{index}")
        refusal = channel_refusal(channel=channel, content_type=media.content_type, size=media.size, name=media.name)
        if refusal:
            raise ApplicationError(refusal, code="unsupported_media", field=f"attachments.{index}")
        files.append(media)
    if channel == Channel.SMS and sum(media.size for media in files) > MMS_TOTAL_MAX_BYTES:
        raise ApplicationError(f"An MMS carries at most {human_size(MMS_TOTAL_MAX_BYTES)} of attachments in all.",
                               code="too_large", field="attachments")
    return files


def attachments_attach(*, message, files: list[MediaFile], first_position: int = 0) -> None:
    """Bind checked attachments to their message. The conditional UPDATE stops one attachment
    being sent by two messages racing for it."""
    for offset, media in enumerate(files):
        bound = MediaFile.objects.filter(pk=media.pk, message__isnull=True).update(
            message=message, position=first_position + offset)
        if not bound:
            raise ApplicationError(f"Attachment {media.pk} was already sent; upload the file again to send it "
                                   "once more.", code="attachment_used", field="attachments")


def media_files_delete(*, message_ids) -> int:
    """Delete the files of these messages (privacy erase, retention)."""
    return _media_delete(MediaFile.objects.filter(message_id__in=list(message_ids)))


def attachments_unsent_prune() -> int:
    """Delete uploads never sent within ATTACHMENT_UNSENT_RETENTION_HOURS (an abandoned draft's)."""
    cutoff = timezone.now() - timedelta(hours=settings.ATTACHMENT_UNSENT_RETENTION_HOURS)
    return _media_delete(MediaFile.objects.filter(direction=MediaFile.Direction.OUTBOUND, message__isnull=True,
                                                  created_at__lt=cutoff))


def _media_delete(files) -> int:
    """The rows now, the stored files once the transaction commits."""
    storage_names = [name for name in files.values_list("file", flat=True) if name]
    deleted = files.delete()[0]

    def delete_stored():
        for name in storage_names:
            try:
                default_storage.delete(name)
            except OSError:
                logger.warning("could not delete the stored media file %s", name)

    transaction.on_commit(delete_stored)
    return deleted
