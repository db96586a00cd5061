"""The outbound worker: claims due jobs and sends them on a bounded pool of threads
(OUTBOUND_CONCURRENCY per process), so a slow or hanging request holds only its own thread.

The loop (`conversations.background.WorkerLoop`, shared with the webhook worker) claims as
many due jobs as there are free threads, agent replies first, bulk sends (campaigns) never on
the eighth of the threads kept for agent replies, and runs the recovery sweep, the
inbox-event pruning and the campaign dispatcher as chores. Any number of workers may run: `manage.py
run_outbound_worker` runs one per process; with OUTBOUND_WORKER_EMBEDDED the web process runs
one in a thread. With a concurrency of 1 a worker sends on its own thread (the tests' way).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
from collections import Counter
from datetime import timedelta
from typing import Callable

from django.conf import settings
from django.db import connection

from conversations.background import Chore, WorkerLoop, embedded_start
from conversations.events import inbox_events_prune
from conversations.models import Channel, OutboundJob
from conversations.outbound import jobs, pacing, pushes, recovery, service
from conversations.outbound.transport import sender_for
from conversations.privacy.erase import retention_chore
from conversations.reports.rollups import report_refresh_in_background
from conversations.services.attachments import attachments_unsent_prune
from conversations.services.media_download import inbound_media_claim_due, inbound_media_download
from conversations.services.snooze import conversations_wake_snoozed

logger = logging.getLogger(__name__)

INBOX_EVENT_PRUNE_INTERVAL_SECONDS = 3600
MEDIA_DOWNLOAD_INTERVAL_SECONDS = 1.0
MEDIA_DOWNLOADS_AT_ONCE = 4
# Each batch costs about 30 queries whatever its size: fewer, larger batches (the dispatcher keeps
# BACKLOG_SECONDS = 2 s of the campaign queued, so the sends never run dry meanwhile).
CAMPAIGN_DISPATCH_INTERVAL_SECONDS = 0.5
CAMPAIGN_PROGRESS_INTERVAL_SECONDS = 2.0
REPLY_SHARE_OF_THREADS = 8  # an eighth of the threads (2 of 16) wait for agent replies
BULK_CLAIM_BATCH = 3


def _campaigns_dispatch():
    # Imported here: campaigns queue through this package (a module-level import is a cycle).
    from conversations.campaigns.dispatch import campaigns_dispatch

    return campaigns_dispatch()


def _campaigns_progress():
    from conversations.campaigns.dispatch import campaigns_progress_broadcast

    return campaigns_progress_broadcast()


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class _ThreadPool:
    """`size` daemon threads running submitted calls (daemons: a second SIGTERM exits at once)."""

    def __init__(self, size: int, name: str):
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._serve, name=f"{name}-{n}", daemon=True) for n in range(size)]
        for thread in self._threads:
            thread.start()

    def submit(self, call: Callable[[], None]) -> None:
        self._calls.put(call)

    def _serve(self) -> None:
        while (call := self._calls.get()) is not None:
            call()

    def shutdown(self) -> None:
        for _ in self._threads:
            self._calls.put(None)
        for thread in self._threads:
            thread.join()


class OutboundWorker(WorkerLoop):
    def __init__(self, *, worker_id: str | None = None, interval: float = 0.5, sweep_interval: float = 5.0,
                 stop_when_idle: bool = False, concurrency: int | None = None):
        super().__init__(interval=interval, stop_when_idle=stop_when_idle, chores=[
            Chore("sweep", sweep_interval, self.sweep),
            Chore("prune inbox events", INBOX_EVENT_PRUNE_INTERVAL_SECONDS, self.prune),
            Chore("wake snoozed conversations", sweep_interval, conversations_wake_snoozed),
            Chore("erase messages past retention", INBOX_EVENT_PRUNE_INTERVAL_SECONDS, retention_chore),
            Chore("refresh report rollups", settings.REPORTS_REFRESH_SECONDS, report_refresh_in_background),
            Chore("download inbound media", MEDIA_DOWNLOAD_INTERVAL_SECONDS, self.media_downloads),
            Chore("prune unsent attachments", INBOX_EVENT_PRUNE_INTERVAL_SECONDS, attachments_unsent_prune),
            Chore("dispatch campaigns", CAMPAIGN_DISPATCH_INTERVAL_SECONDS, _campaigns_dispatch),
            Chore("campaign progress", CAMPAIGN_PROGRESS_INTERVAL_SECONDS, _campaigns_progress),
        ])
        self.worker_id = (worker_id or default_worker_name())[:64]
        self.name = f"outbound worker {self.worker_id}"
        self.concurrency = concurrency or settings.OUTBOUND_CONCURRENCY
        self.sends_done = 0
        self._lock = threading.Lock()
        self._in_hand = 0  # claimed sends and lookups not finished yet
        self._bulk_in_hand = 0  # of which bulk sends (campaigns)
        # Threads bulk sends never take, so an agent's reply is claimed (and sent) at once even
        # while a campaign keeps every other thread busy: at least one whenever there are two or
        # more (none with a concurrency of 1, where replies still go first at each claim).
        self.reserved_for_replies = max(1, self.concurrency // REPLY_SHARE_OF_THREADS) if self.concurrency > 1 else 0
        self._bulk_batch = min(BULK_CLAIM_BATCH, max(1, self.concurrency - self.reserved_for_replies))
        self._held = Counter()  # claimed sends per channel, for senders' pacing
        self._slot_freed = threading.Event()
        self._pool: _ThreadPool | None = None

    def run(self) -> None:
        if self.concurrency > 1:
            self._pool = _ThreadPool(self.concurrency, f"outbound-{self.worker_id}")
            pushes.coalescing_start()
        super().run()

    def stop(self) -> None:
        """Finish the sends in flight, then return from `run()`."""
        super().stop()
        self._slot_freed.set()

    # --- the loop's hooks -----------------------------------------------------------------------
    def work(self) -> bool:
        free = self.concurrency - self._in_hand
        if free <= 0:
            self._slot_freed.wait(self.interval)
            self._slot_freed.clear()
            return True
        exclude, limit = self._pacing_limits(free)
        bulk_room = self._bulk_room()
        if bulk_room < self._bulk_batch and self._bulk_in_hand:
            bulk_room = 0  # bulk sends are claimed a few at a time, not one claim per send
        claimed = jobs.outbound_jobs_claim_due(limit=limit, worker_id=self.worker_id, exclude_channels=exclude,
                                               bulk_limit=bulk_room)
        for job in claimed:
            self._start(lambda job=job: service.job_send(job=job), channel=job.message.conversation.channel,
                        bulk=job.priority >= OutboundJob.Priority.BULK)
        return bool(claimed)

    def idle(self) -> bool:
        from conversations.campaigns.dispatch import campaigns_have_due_recipients

        return self._in_hand == 0 and not OutboundJob.objects.filter(
            state__in=[OutboundJob.State.PENDING, OutboundJob.State.IN_FLIGHT]).exists() and not campaigns_have_due_recipients()

    def wait(self, timeout: float) -> None:
        self._slot_freed.wait(timeout)
        self._slot_freed.clear()

    def finish(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()  # after the sends in flight
            self._pool = None
            pushes.coalescing_stop()

    def summary(self) -> str:
        return f"after {self.sends_done} sends"

    # --- chores -----------------------------------------------------------------------------------
    def sweep(self) -> None:
        counts = recovery.outbound_sweep(lookup=self._lookup_start if self._pool is not None else None)
        if any(counts.values()):
            logger.info("outbound sweep: %s", counts)

    def prune(self) -> None:
        pruned = inbox_events_prune(older_than=timedelta(days=settings.INBOX_EVENT_RETENTION_DAYS))
        if pruned:
            logger.info("pruned %d inbox events older than %d days", pruned, settings.INBOX_EVENT_RETENTION_DAYS)

    def media_downloads(self) -> None:
        """Start the due inbound-media downloads in the pool, leaving most threads to sends."""
        room = max(1, min(MEDIA_DOWNLOADS_AT_ONCE, self.concurrency - self._in_hand))
        for media in inbound_media_claim_due(limit=room):
            self._start(lambda media=media: inbound_media_download(media), channel=None)

    # --- the pool -----------------------------------------------------------------------------------
    def _lookup_start(self, job: OutboundJob) -> None:
        self._start(lambda: recovery.report_lookup(job), channel=None)

    def _start(self, call: Callable[[], object], *, channel: str | None, bulk: bool = False) -> None:
        with self._lock:
            self._in_hand += 1
            self._bulk_in_hand += bulk
            if channel:
                self._held[channel] += 1
        if self._pool is None:
            self._run(call, channel, bulk)
        else:
            self._pool.submit(lambda: self._run(call, channel, bulk))

    def _run(self, call: Callable[[], object], channel: str | None, bulk: bool = False) -> None:
        try:
            call()
        except Exception:
            # The job keeps its lease: the recovery sweep decides what became of it.
            logger.exception("%s: a send failed unexpectedly", self.name)
        finally:
            if self._pool is not None and not connection.in_atomic_block:
                connection.close()  # this pool thread's own connection, back to the pool
            with self._lock:
                self._in_hand -= 1
                self._bulk_in_hand -= bulk
                if channel:
                    self._held[channel] -= 1
                    self.sends_done += 1
            # Wake the loop when it has something to claim: any freed thread, except a bulk send's
            # while too few bulk threads are free for a batch (agent replies are polled meanwhile).
            if not bulk or self._bulk_room() >= self._bulk_batch or not self._bulk_in_hand:
                self._slot_freed.set()

    def _bulk_room(self) -> int:
        return self.concurrency - self.reserved_for_replies - self._bulk_in_hand

    def _pacing_limits(self, free: int) -> tuple[list[str], int]:
        """Channels not to claim for (their paced sender has enough sends waiting here) and how
        many jobs to claim at most, so no sender gets more than its share of the threads."""
        exclude, limit = [], free
        for channel in Channel.values:
            cap = pacing.sender_concurrency_cap(sender_for(channel))
            if cap is None:
                continue
            room = cap - self._held[channel]
            if room <= 0:
                exclude.append(channel)
            else:
                limit = min(limit, room)
        return exclude, limit


def start_embedded_worker(**options) -> OutboundWorker:
    """Drain the queue from a daemon thread of this process (the one-command default)."""
    return embedded_start("outbound-worker", lambda: OutboundWorker(**options))
