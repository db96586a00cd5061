"""Where workers run: a daemon thread of the web process (the one-command default) or the
foreground of a management command. A worker has `run()`, `stop()` and `stop_event`. Also
the backoff every worker retries with."""

import logging
import random
import signal
import sys
import threading
from typing import Callable, TypeVar

logger = logging.getLogger(__name__)

Worker = TypeVar("Worker")
_embedded: dict[str, tuple[threading.Thread, object]] = {}
_embedded_lock = threading.Lock()


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
    """SIGTERM or SIGINT: finish `finishing` (e.g. "the current send"), then return from
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
