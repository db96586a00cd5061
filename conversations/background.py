"""What every background worker shares: the run loop (`WorkerLoop`: database-outage retry,
stop / until-idle, periodic chores), where a worker runs (a daemon thread of the web process,
the one-command default, or the foreground of a management command) and the backoff every
worker retries with. The outbound worker and the webhook worker are both `WorkerLoop`s."""

from __future__ import annotations

import logging
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from django.db import InterfaceError, OperationalError, close_old_connections, connection

logger = logging.getLogger(__name__)

DATABASE_RETRY_SECONDS = 5

Worker = TypeVar("Worker")
_embedded: dict[str, tuple[threading.Thread, object]] = {}
_embedded_lock = threading.Lock()


@dataclass
class Chore:
    """Periodic work a loop does between batches (a sweep, pruning): `run()` every `every` seconds."""

    name: str
    every: float
    run: Callable[[], object]
    due_at: float = 0.0  # time.monotonic(); 0 = at the first turn of the loop


class WorkerLoop:
    """One worker: repeatedly runs its due chores, then `work()` (one batch); when there was
    none, `idle()` ends an `--until-idle` run, otherwise it waits `interval` (or until woken).

    The database going away (restart, failover) does not end the loop: the batch in hand rolls
    back, the loop waits `database_retry_seconds` and carries on. `stop()` lets the batch in
    hand finish, then `run()` returns. Subclasses implement `work()` and `idle()` and may hook
    `wait()`, `before_work()`, `database_lost()` and `finish()`.
    """

    name = "worker"
    database_retry_seconds: float = DATABASE_RETRY_SECONDS

    def __init__(self, *, interval: float, stop_when_idle: bool = False, chores: list[Chore] | None = None):
        self.interval = interval
        self.stop_when_idle = stop_when_idle
        self.chores = chores or []
        self.stop_event = threading.Event()

    # --- what a worker does -----------------------------------------------------------------
    def work(self) -> bool:
        """Do one batch; True if there was work (the loop then goes on without waiting)."""
        raise NotImplementedError

    def idle(self) -> bool:
        """Nothing left to do: an `--until-idle` run ends."""
        raise NotImplementedError

    def wait(self, timeout: float) -> None:
        self.stop_event.wait(timeout)

    def before_work(self) -> None:
        pass

    def database_lost(self) -> None:
        pass

    def finish(self) -> None:
        """Called once when the loop ends, however it ends."""

    def summary(self) -> str:
        return ""

    # --- the loop -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Finish the batch in hand, then return from `run()`."""
        self.stop_event.set()

    def run(self) -> None:
        logger.info("%s started", self.name)
        try:
            while not self.stop_event.is_set():
                try:
                    close_connection_between_batches()
                    self.before_work()
                    self.chores_run()
                    if self.work():
                        continue
                    if self.stop_when_idle and self.idle():
                        return
                    close_connection_between_batches()
                    self.wait(self.interval)
                except (OperationalError, InterfaceError) as exc:
                    if connection.in_atomic_block:
                        raise
                    # Database down or restarting: the batch in hand rolled back; its leases
                    # and claims are recovered by whoever runs next.
                    logger.warning("%s: database unavailable (%s); retrying in %s s", self.name, exc,
                                   self.database_retry_seconds)
                    connection.close()
                    self.database_lost()
                    self.stop_event.wait(self.database_retry_seconds)
        finally:
            self.finish()
            if not connection.in_atomic_block:
                connection.close()
            logger.info("%s stopped %s", self.name, self.summary())

    def chores_run(self) -> None:
        now = time.monotonic()
        for chore in self.chores:
            if now < chore.due_at:
                continue
            chore.due_at = now + chore.every
            try:
                chore.run()
            except OperationalError as exc:
                if not database_is_locked(exc):
                    raise
                # SQLite: another writer holds the file; the chore runs again next time.


def database_is_locked(exc: Exception) -> bool:
    """SQLite's "database is locked": a busy writer, not an outage."""
    return connection.vendor == "sqlite" and "locked" in str(exc)


def close_connection_between_batches() -> None:
    """Give the connection back (to the pool) between batches. Inside a transaction only when a
    test drives the worker on its own connection: then it stays."""
    if not connection.in_atomic_block:
        close_old_connections()


def embedded_start(name: str, make_worker: Callable[[], Worker]) -> Worker:
    """Run a worker in a daemon thread of this process, restarted if it crashes (nothing may
    end its work for the life of the web process). Idempotent: one per name per process."""
    with _embedded_lock:
        running = _embedded.get(name)
        if running is not None and running[0].is_alive():
            return running[1]
        worker = make_worker()

        def run():
            while not worker.stop_event.is_set():
                try:
                    worker.run()
                except Exception:
                    logger.exception("embedded %s crashed; restarting in 5 s", name)
                    worker.stop_event.wait(5)

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        _embedded[name] = (thread, worker)
        return worker


def stop_on_signals(worker, *, say: Callable[[str], None], finishing: str) -> None:
    """SIGTERM or SIGINT: finish `finishing` (e.g. "the sends in flight"), then return from
    `run()`; a second signal exits at once."""

    def shutdown(signum, frame):
        if worker.stop_event.is_set():
            say(f"{signal.strsignal(signum)} again: exiting now.")
            sys.exit(1)
        say(f"{signal.strsignal(signum)}: finishing {finishing}, then exiting.")
        worker.stop()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)


def backoff_seconds(attempt: int, *, base: float, cap: float | None = None, jitter: bool = False) -> float:
    """How long to wait after failed attempt number `attempt` (1, 2, ...): base·2^(attempt-1),
    times [1, 2) with `jitter` (so that many retries due together spread out), at most `cap`."""
    delay = base * 2 ** (attempt - 1)
    if jitter:
        delay *= 1 + random.random()
    return delay if cap is None else min(delay, cap)
