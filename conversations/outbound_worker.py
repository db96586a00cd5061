"""The outbound worker: runs the `outbound` queue's tasks and the sweeper that recovers jobs.

It is built on django-tasks-db (tasks are claimed with its `SELECT ... FOR UPDATE SKIP LOCKED`
and run by its `Worker.run_task`) plus what that backend lacks: leases on `OutboundJob`, a
sweeper for expired leases, unconfirmed sends and lost tasks (which also prunes old inbox
events hourly), and retries with backoff (see
`conversations/outbound.py`). Any number of workers may run; `manage.py run_outbound_worker`
runs one per process, and with OUTBOUND_WORKER_EMBEDDED the web process runs one in a thread.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker as DatabaseTaskWorker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from conversations.background import embedded_start
from conversations.events import inbox_events_prune
from conversations.privacy.erase import retention_chore
from conversations.outbound import OUTBOUND_QUEUE, outbound_sweep, worker_name, worker_name_set

logger = logging.getLogger(__name__)

TASK_BACKEND = "default"
DATABASE_RETRY_SECONDS = 5
INBOX_EVENT_PRUNE_INTERVAL_SECONDS = 3600


class WorkerLost(Exception):
    """Recorded on a task its worker never finished (killed mid-task); the job's lease covers it."""


class OutboundWorker:
    def __init__(self, *, worker_id: str | None = None, interval: float = 0.5, sweep_interval: float = 5.0,
                 stop_when_idle: bool = False):
        self.worker_id = (worker_id or worker_name())[:64]
        self.interval = interval
        self.sweep_interval = sweep_interval
        self.stop_when_idle = stop_when_idle
        self.stop_event = threading.Event()
        self.tasks_run = 0
        self._next_sweep = 0.0
        self._next_prune = 0.0
        self._runner = DatabaseTaskWorker(
            queue_names=[OUTBOUND_QUEUE], interval=interval, batch=False, backend_name=TASK_BACKEND,
            startup_delay=False, max_tasks=None, worker_id=self.worker_id, excluded_queue_names=[],
        )

    def stop(self) -> None:
        """Finish the task in hand, then return from `run()`."""
        self.stop_event.set()

    def run(self) -> None:
        logger.info("outbound worker %s started", self.worker_id)
        worker_name_set(self.worker_id)
        try:
            while not self.stop_event.is_set():
                try:
                    _close_old_connections()
                    self._maybe_sweep()
                    ran = self.run_one()
                    _close_old_connections()
                    if ran:
                        continue
                    if self.stop_when_idle and not self._work_left():
                        return
                except (OperationalError, InterfaceError) as exc:
                    if connection.in_atomic_block:
                        raise
                    # Database down or restarting: wait and try again. A task cut off here is
                    # left RUNNING; its job's lease and the sweeper recover it.
                    logger.warning("outbound worker %s: database unavailable (%s); retrying in %s s",
                                   self.worker_id, exc, DATABASE_RETRY_SECONDS)
                    connection.close()
                    self.stop_event.wait(DATABASE_RETRY_SECONDS)
                    continue
                self.stop_event.wait(self.interval)
        finally:
            worker_name_set(None)
            if not connection.in_atomic_block:
                connection.close()
            logger.info("outbound worker %s stopped after %d tasks", self.worker_id, self.tasks_run)

    def run_one(self) -> bool:
        """Claim and run one ready task of the outbound queue; False when there was none."""
        tasks = DBTaskResult.objects.ready().filter(backend_name=TASK_BACKEND, queue_name=OUTBOUND_QUEUE)
        try:
            with exclusive_transaction(tasks.db):
                task_result = tasks.get_locked()
                if task_result is not None:
                    task_result.claim(self.worker_id)
        except OperationalError as exc:
            if is_locked_database_exception(exc):
                return False
            raise
        if task_result is None:
            return False
        self._runner.run_task(task_result)
        self.tasks_run += 1
        return True

    def _maybe_sweep(self) -> None:
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + self.sweep_interval
        try:
            counts = outbound_sweep()
            abandoned = tasks_abandoned_fail()
        except OperationalError as exc:
            if is_locked_database_exception(exc):
                return
            raise
        if any(counts.values()) or abandoned:
            logger.info("outbound sweep: %s, abandoned tasks closed: %d", counts, abandoned)
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + INBOX_EVENT_PRUNE_INTERVAL_SECONDS
            retention_chore()  # privacy: MESSAGE_RETENTION_DAYS (issue 17), at most hourly
            pruned = inbox_events_prune(older_than=timedelta(days=settings.INBOX_EVENT_RETENTION_DAYS))
            if pruned:
                logger.info("pruned %d inbox events older than %d days", pruned, settings.INBOX_EVENT_RETENTION_DAYS)

    def _work_left(self) -> bool:
        from conversations.models import OutboundJob

        return (
            DBTaskResult.objects.filter(queue_name=OUTBOUND_QUEUE, status=TaskResultStatus.READY).exists()
            or OutboundJob.objects.filter(state=OutboundJob.State.IN_FLIGHT).exists()
        )


def _close_old_connections() -> None:
    # Inside a transaction only when a test drives the worker on its own connection.
    if not connection.in_atomic_block:
        close_old_connections()


def tasks_abandoned_fail(*, older_than_seconds: float | None = None) -> int:
    """Close tasks left RUNNING by a killed worker (django-tasks-db never does): by then the
    job's lease has expired and the sweeper has decided what happens to the message."""
    from django.conf import settings

    seconds = older_than_seconds if older_than_seconds is not None else 2 * settings.OUTBOUND_LEASE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=seconds)
    return DBTaskResult.objects.filter(
        queue_name=OUTBOUND_QUEUE, status=TaskResultStatus.RUNNING, started_at__lt=cutoff
    ).update(
        status=TaskResultStatus.FAILED, finished_at=timezone.now(),
        exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
        traceback="The worker running this task stopped before finishing it; the job's lease sweeper recovered it.",
    )


def start_embedded_worker(**options) -> OutboundWorker:
    """Drain the queue from a daemon thread of this process (the one-command default)."""
    return embedded_start("outbound-worker", lambda: OutboundWorker(**options))
