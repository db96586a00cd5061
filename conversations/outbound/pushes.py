"""Live pushes of a busy worker, coalesced: the inbox events of the sends a worker process
records (logged in `InboxEvent` in each send's transaction, as always) go to the agents'
sockets together, one channel-layer message every `PUSH_EVERY_SECONDS`, instead of one per send.

A push costs about 3 ms of CPU (the channel layer's async round trip from a sync thread), more
than recording the send; at a campaign's 57 sends a second that was a fifth of the worker's
CPU. The events keep their order (one buffer) and reach the sockets at most a tenth of a second
later; a reconnecting page replays the log anyway. Used by worker processes with a thread pool
(`OutboundWorker.run`); elsewhere (tests, a concurrency of 1) each send pushes at its commit.
"""

from __future__ import annotations

import threading

from django.db import transaction

from conversations import events

PUSH_EVERY_SECONDS = 0.1

_active: PushCoalescer | None = None


class PushCoalescer:
    """Passed as `batch=` to `events.broadcast_on_commit`: a change's events join the buffer
    when its transaction commits (not if it rolls back)."""

    def __init__(self, every: float = PUSH_EVERY_SECONDS):
        self.every = every
        self._lock = threading.Lock()
        self._wire_events: list[dict] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="outbound-pushes", daemon=True)

    def add_on_commit(self, wire_events: list[dict]) -> None:
        transaction.on_commit(lambda: self._add(wire_events))

    def _add(self, wire_events: list[dict]) -> None:
        with self._lock:
            self._wire_events.extend(wire_events)

    def flush(self) -> None:
        with self._lock:
            wire_events, self._wire_events = self._wire_events, []
        if wire_events:
            events.group_send(events.INBOX_GROUP, {"type": "inbox.events", "events": wire_events})

    def _loop(self) -> None:
        while not self._stopped.wait(self.every):
            self.flush()

    def start(self) -> PushCoalescer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5)
        self.flush()


_users = 0
_users_lock = threading.Lock()


def coalescing_start() -> None:
    """A worker with a thread pool starts (several in one process share one coalescer)."""
    global _active, _users
    with _users_lock:
        _users += 1
        if _active is None:
            _active = PushCoalescer().start()


def coalescing_stop() -> None:
    """That worker stopped: the last one out pushes what is left."""
    global _active, _users
    with _users_lock:
        _users -= 1
        coalescer = _active if _users == 0 else None
        if coalescer is not None:
            _active = None
    if coalescer is not None:
        coalescer.stop()


def batch() -> PushCoalescer | None:
    """What a send passes as `batch=`: this process's coalescer, None when it pushes at once."""
    return _active
