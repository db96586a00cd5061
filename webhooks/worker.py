"""The webhook worker: applies committed receipts to the inbox, in batches, as they arrive.

Woken by PostgreSQL NOTIFY (any process) or an in-process event (the embedded worker), with a
polling fallback. Any number may run: batches are claimed with `SELECT ... FOR UPDATE SKIP
LOCKED`. `manage.py run_webhook_worker` runs one per process; with WEBHOOK_WORKER_EMBEDDED the
web process runs one in a thread.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection

from conversations.background import embedded_start
from webhooks.models import WebhookReceipt
from webhooks.services import RECEIPT_CHANNEL, receipt_arrived, receipts_apply, receipts_prune, v2_nonces_prune

logger = logging.getLogger(__name__)

DATABASE_RETRY_SECONDS = 5
PRUNE_INTERVAL_SECONDS = 3600


class _Wakeup:
    """Blocks until a receipt may have arrived, or `timeout` passes."""

    def __init__(self):
        self._listener: psycopg.Connection | None = None

    def listen(self) -> None:
        """Subscribe before looking for work, so a receipt stored after the look is never
        missed: its notification waits in the connection until `wait()` reads it."""
        if connection.vendor != "postgresql" or (self._listener is not None and not self._listener.closed):
            return
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        try:
            self._listener = psycopg.connect(**params, autocommit=True)
            self._listener.execute(f"LISTEN {RECEIPT_CHANNEL}")
        except psycopg.Error as exc:
            logger.warning("webhook worker: cannot LISTEN (%s); polling", exc)
            self.close()

    def wait(self, timeout: float, stop_event: threading.Event) -> None:
        if self._listener is None:
            # SQLite (the embedded worker is woken by the view's thread) or no LISTEN connection.
            receipt_arrived.wait(timeout)
            receipt_arrived.clear()
            return
        deadline = time.monotonic() + timeout
        try:
            # In short slices, so that `stop()` is noticed within half a second.
            while not stop_event.is_set() and (remaining := deadline - time.monotonic()) > 0:
                for _ in self._listener.notifies(timeout=min(remaining, 0.5), stop_after=1):
                    return
        except psycopg.Error as exc:
            logger.warning("webhook worker: LISTEN connection lost (%s); polling", exc)
            self.close()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None


class WebhookWorker:
    def __init__(self, *, interval: float = 1.0, batch_size: int = 50, stop_when_idle: bool = False):
        self.interval = interval
        self.batch_size = batch_size
        self.stop_when_idle = stop_when_idle
        self.stop_event = threading.Event()
        self.receipts_taken = 0
        self._next_prune = 0.0
        self._wakeup = _Wakeup()

    def stop(self) -> None:
        """Finish the batch in hand, then return from `run()`."""
        self.stop_event.set()
        receipt_arrived.set()

    def run(self) -> None:
        logger.info("webhook worker started")
        try:
            while not self.stop_event.is_set():
                try:
                    _close_old_connections()
                    self._wakeup.listen()
                    self._maybe_prune()
                    taken = receipts_apply(limit=self.batch_size)
                    self.receipts_taken += taken
                    if taken:
                        continue
                    if self.stop_when_idle and not WebhookReceipt.objects.due().exists():
                        return
                    _close_old_connections()
                    self._wakeup.wait(self.interval, self.stop_event)
                except (OperationalError, InterfaceError) as exc:
                    if connection.in_atomic_block:
                        raise
                    # Database down or restarting: the batch rolled back and is applied later.
                    logger.warning("webhook worker: database unavailable (%s); retrying in %s s", exc, DATABASE_RETRY_SECONDS)
                    connection.close()
                    self._wakeup.close()
                    self.stop_event.wait(DATABASE_RETRY_SECONDS)
        finally:
            self._wakeup.close()
            if not connection.in_atomic_block:
                connection.close()
            logger.info("webhook worker stopped after %d receipts", self.receipts_taken)

    def _maybe_prune(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_INTERVAL_SECONDS
        days = settings.WEBHOOK_RECEIPT_RETENTION_DAYS
        pruned = receipts_prune(older_than=timedelta(days=days))
        if pruned:
            logger.info("pruned %d applied webhook receipts older than %d days", pruned, days)
        nonce_days = settings.WEBHOOK_V2_NONCE_RETENTION_DAYS
        if forgotten := v2_nonces_prune(older_than=timedelta(days=nonce_days)):
            logger.info("forgot %d V2 signature nonces older than %d days", forgotten, nonce_days)


def _close_old_connections() -> None:
    # Inside a transaction only when a test drives the worker on its own connection.
    if not connection.in_atomic_block:
        close_old_connections()


def start_embedded_worker(**options) -> WebhookWorker:
    """Apply receipts from a daemon thread of this process (the one-command default)."""
    return embedded_start("webhook-worker", lambda: WebhookWorker(**options))
