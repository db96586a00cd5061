"""The webhook worker: applies committed receipts to the inbox, in batches, as they arrive.

Woken by PostgreSQL NOTIFY (any process) or an in-process event (the embedded worker), with a
polling fallback. Any number may run: batches are claimed with `SELECT ... FOR UPDATE SKIP
LOCKED`. `manage.py run_webhook_worker` runs one per process; with WEBHOOK_WORKER_EMBEDDED the
web process runs one in a thread. Its loop is `conversations.background.WorkerLoop`, the
outbound worker's too.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import psycopg
from django.conf import settings
from django.db import connection
from django.utils import timezone

from conversations.background import Chore, WorkerLoop, embedded_start
from conversations.models import Message, MessageStatusEvent
from conversations.services.delivery_reports import status_events_attach
from webhooks.models import WebhookReceipt
from webhooks.services import RECEIPT_CHANNEL, receipt_arrived, receipts_apply, receipts_prune, v2_nonces_prune

logger = logging.getLogger(__name__)

PRUNE_INTERVAL_SECONDS = 3600
PARKED_REPORTS_INTERVAL_SECONDS = 5
# Parked reports older than this are not ours (or their send never got its uuid stored).
PARKED_REPORTS_WINDOW = timedelta(days=1)


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


class WebhookWorker(WorkerLoop):
    name = "webhook worker"

    def __init__(self, *, interval: float = 1.0, batch_size: int = 50, stop_when_idle: bool = False):
        super().__init__(interval=interval, stop_when_idle=stop_when_idle, chores=[
            Chore("prune", PRUNE_INTERVAL_SECONDS, self.prune),
            Chore("attach parked reports", PARKED_REPORTS_INTERVAL_SECONDS, self.parked_reports_attach),
        ])
        self.batch_size = batch_size
        self.receipts_taken = 0
        self._wakeup = _Wakeup()

    def stop(self) -> None:
        """Finish the batch in hand, then return from `run()`."""
        super().stop()
        receipt_arrived.set()

    def before_work(self) -> None:
        self._wakeup.listen()

    def work(self) -> bool:
        taken = receipts_apply(limit=self.batch_size)
        self.receipts_taken += taken
        return bool(taken)

    def idle(self) -> bool:
        return not WebhookReceipt.objects.due().exists()

    def wait(self, timeout: float) -> None:
        self._wakeup.wait(timeout, self.stop_event)

    def database_lost(self) -> None:
        self._wakeup.close()

    def finish(self) -> None:
        self._wakeup.close()

    def summary(self) -> str:
        return f"after {self.receipts_taken} receipts"

    def prune(self) -> None:
        days = settings.WEBHOOK_RECEIPT_RETENTION_DAYS
        pruned = receipts_prune(older_than=timedelta(days=days))
        if pruned:
            logger.info("pruned %d applied webhook receipts older than %d days", pruned, days)
        nonce_days = settings.WEBHOOK_V2_NONCE_RETENTION_DAYS
        if forgotten := v2_nonces_prune(older_than=timedelta(days=nonce_days)):
            logger.info("forgot %d V2 signature nonces older than %d days", forgotten, nonce_days)

    def parked_reports_attach(self) -> int:
        """Apply reports that were parked because they came before their send's uuid was stored
        (a report without our `?ref=`): the send path only stores the uuid."""
        attached = 0
        for message in messages_with_parked_reports(since=timezone.now() - PARKED_REPORTS_WINDOW):
            attached += status_events_attach(message=message)
        return attached


def messages_with_parked_reports(*, since) -> list[Message]:
    """Our sends whose uuid matches a report parked after `since` and not yet attached."""
    parked = MessageStatusEvent.objects.filter(message__isnull=True, received_at__gte=since).values("plivo_message_uuid")
    return list(Message.objects.filter(plivo_message_uuid__in=parked, direction=Message.Direction.OUTBOUND)[:100])


def start_embedded_worker(**options) -> WebhookWorker:
    """Apply receipts from a daemon thread of this process (the one-command default)."""
    return embedded_start("webhook-worker", lambda: WebhookWorker(**options))
