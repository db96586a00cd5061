"""The opaque keyset cursors of every list: a (moment, id) pair, never an OFFSET, so page
2,000 costs what page 1 costs."""

import base64
import binascii
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from messaging_site.errors import ApplicationError


def encode_cursor(moment: datetime, pk: int) -> str:
    raw = f"{moment.isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, field: str) -> tuple[datetime, int]:
    """The (moment, id) of a cursor this server handed out; a 400 naming `field` for any other."""
    invalid = ApplicationError("This cursor is not valid; start again without it.", field=field, code="invalid_cursor", status=400)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment_text, pk_text = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
        moment = parse_datetime(moment_text)
        pk = int(pk_text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid from exc
    if moment is None or moment.tzinfo is None:
        raise invalid
    return moment, pk


def conversations_after(conversations: QuerySet, moment, pk) -> QuerySet:
    """The conversations after (moment, pk) in the inbox list's order (newest activity first)."""
    return conversations.filter(Q(last_message_at__lt=moment) | Q(last_message_at=moment, pk__lt=pk))


def created_before(rows: QuerySet, cursor: str, *, field: str) -> QuerySet:
    """The rows before `cursor` in (created_at, id) order: older, or as old with a lower id."""
    moment, pk = decode_cursor(cursor, field=field)
    return rows.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))


def newest_page(rows: QuerySet, *, limit: int) -> tuple[list, str | None]:
    """The newest `limit` rows, newest first, and the cursor of the last one when older rows
    remain (None when this page holds the oldest)."""
    page = list(rows.order_by("-created_at", "-pk")[: limit + 1])
    if len(page) <= limit:
        return page, None
    page = page[:limit]
    return page, encode_cursor(page[-1].created_at, page[-1].pk)
