"""Pacing: Plivo's account-wide API limit and each sender number's MPS, for every worker at once.

A bucket (the account, or one sender number) hands out slots one interval apart: taking a
turn moves its `next_slot_at` on by one interval and the caller sleeps until its slot, so
requests leave evenly spaced and in the order they asked (an agent's reply waits behind at
most the requests already waiting, not behind a campaign's backlog). With PostgreSQL the
buckets are rows of `PlivoPacing`, moved by one UPDATE each (the database's clock decides),
so all worker processes share them; with SQLite they live in the process.

The account bucket runs at `ACCOUNT_HEADROOM` of PLIVO_API_RATE_LIMIT: a request sent on time
can arrive late (network jitter, a busy machine), and evenly spaced requests shifted by up to
a quarter second still fit Plivo's window. A 429 pauses the account bucket for Retry-After
(default `RATE_LIMITED_PAUSE_SECONDS`: Plivo's window frees a slot every interval,
so a short pause costs little; a longer Retry-After is honoured, up to 5 minutes).
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from conversations.models import PlivoPacing
from conversations.phone import InvalidPhoneNumber, normalize_phone
from conversations.sql import table

ACCOUNT_KEY = "account"
ACCOUNT_HEADROOM = 0.95
RATE_LIMITED_PAUSE_SECONDS = 0.25
RATE_LIMITED_PAUSE_MAX_SECONDS = 300.0
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*s\s*$")


@dataclass(frozen=True)
class Rate:
    requests: int
    seconds: float

    @property
    def interval(self) -> float:
        return self.seconds / self.requests


@functools.cache
def rate_parse(text: str) -> Rate:
    """"300/5s" (300 requests per 5 seconds); "60/s" is 60 per second."""
    match = _RATE.match(text or "")
    if not match or int(match[1]) < 1 or (match[2] is not None and float(match[2]) <= 0):
        raise ImproperlyConfigured(f"PLIVO_API_RATE_LIMIT must look like 300/5s (requests/seconds), not {text!r}.")
    return Rate(requests=int(match[1]), seconds=float(match[2] or 1))


@functools.cache
def sender_mps_parse(text: str) -> dict[str, float]:
    """"+14155550199=5,+14155550100=80" as {number: messages per second}."""
    rates = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        number, _, mps = item.partition("=")
        try:
            rates[normalize_phone(number.strip(), strict=True)] = value = float(mps)
        except (InvalidPhoneNumber, ValueError):
            value = 0
        if value <= 0:
            raise ImproperlyConfigured(f"PLIVO_SENDER_MPS: {item!r} is not <E.164 number>=<messages per second>.")
    return rates


def account_interval() -> float:
    return rate_parse(settings.PLIVO_API_RATE_LIMIT).interval / ACCOUNT_HEADROOM


def sender_mps(sender: str) -> float | None:
    """The MPS `sender` is paced at, None if it is not paced."""
    return sender_mps_parse(settings.PLIVO_SENDER_MPS).get(sender)


def sender_concurrency_cap(sender: str) -> int | None:
    """How many sends for `sender` one worker process keeps claimed at once (None: no cap), so
    that sends waiting for a slow number's turn leave the other threads to other numbers."""
    mps = sender_mps(sender)
    return None if mps is None else max(1, math.ceil(mps))


def request_turn(*, sender: str | None = None, within: float | None = None) -> float | None:
    """Wait for one Plivo request's turn: the sender's (when it is paced), then the account's.

    Returns None once it is this request's turn. With `within`, a turn further away than that
    many seconds is not waited for: the seconds until it are returned instead (the caller gives
    its job back until then)."""
    buckets = _buckets()
    steps = [(f"sender:{sender}", 1 / mps)] if sender and (mps := sender_mps(sender)) else []
    steps.append((ACCOUNT_KEY, account_interval()))
    for key, interval in steps:
        wait = buckets.reserve(key, interval)
        if within is not None and wait > within:
            return wait
        if wait > 0.001:
            time.sleep(wait)
            if within is not None:
                within -= wait
    return None


def rate_limited(*, retry_after: float | None) -> float:
    """Plivo answered 429: no request from any worker for Retry-After (or a quarter second).
    Returns the pause."""
    pause = min(retry_after or RATE_LIMITED_PAUSE_SECONDS, RATE_LIMITED_PAUSE_MAX_SECONDS)
    _buckets().pause(ACCOUNT_KEY, pause)
    return pause


def reset(*, database: bool = True) -> None:
    """Forget every bucket (tests): this process's, and with `database` the shared ones."""
    _local_buckets.clear()
    if database and connection.vendor == "postgresql":
        PlivoPacing.objects.all().delete()


class _PostgresBuckets:
    def reserve(self, key: str, interval: float) -> float:
        pacing = table(PlivoPacing)
        now = "statement_timestamp()"
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {pacing} (key, next_slot_at, paused_until) VALUES (%s, {now} + make_interval(secs => %s), NULL) "
                f"ON CONFLICT (key) DO UPDATE SET next_slot_at = GREATEST({pacing}.next_slot_at, {now}, "
                f"COALESCE({pacing}.paused_until, {now})) + make_interval(secs => %s) "
                f"RETURNING EXTRACT(EPOCH FROM ({pacing}.next_slot_at - {now}))::float8 - %s",
                [key, interval, interval, interval],
            )
            return max(0.0, cursor.fetchone()[0])

    def pause(self, key: str, seconds: float) -> None:
        pacing = table(PlivoPacing)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {pacing} (key, next_slot_at, paused_until) "
                f"VALUES (%s, statement_timestamp(), statement_timestamp() + make_interval(secs => %s)) "
                f"ON CONFLICT (key) DO UPDATE SET paused_until = "
                f"GREATEST(COALESCE({pacing}.paused_until, EXCLUDED.paused_until), EXCLUDED.paused_until)",
                [key, seconds],
            )


class _LocalBuckets:
    """The buckets of this process (SQLite: the embedded worker is the only sender)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._slots: dict[str, float] = {}
        self._paused: dict[str, float] = {}

    def reserve(self, key: str, interval: float) -> float:
        with self._lock:
            now = time.monotonic()
            slot = max(self._slots.get(key, now), now, self._paused.get(key, now))
            self._slots[key] = slot + interval
            return slot - now

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            self._paused[key] = max(self._paused.get(key, 0.0), time.monotonic() + seconds)

    def clear(self) -> None:
        with self._lock:
            self._slots.clear()
            self._paused.clear()


_local_buckets = _LocalBuckets()
_postgres_buckets = _PostgresBuckets()


def _buckets():
    return _postgres_buckets if connection.vendor == "postgresql" else _local_buckets
