"""The fake Plivo's delivery reports: V3-signed status callbacks posted to each message's `url`
on a background thread, in Plivo's shape and with its times."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from simulator.fake_plivo import FakeMessage, FakePlivoAPI

logger = logging.getLogger("simulator.fake_plivo")


def plivo_time(epoch: float, *, fraction: bool = True, offset: bool = False) -> str:
    """Plivo's times: "2024-08-21 18:28:49.244057" in callbacks; the Message API adds "+00:00"
    (its message_time has no fraction)."""
    text = datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f" if fraction else "%Y-%m-%d %H:%M:%S")
    return text + "+00:00" if offset or not fraction else text


class DeliveryReporter:
    """Posts V3-signed status callbacks to each message's `url` on a background thread."""

    def __init__(self, api: FakePlivoAPI):
        self.api = api
        self._queue: list = []
        self._counter = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._session = requests.Session()
        self._posting = 0  # reports taken off the queue and not yet answered

    def pending(self) -> int:
        """Reports still to be posted (scheduled or on their way)."""
        with self._condition:
            return len(self._queue) + self._posting

    def schedule_lifecycle(self, message: FakeMessage):
        reports = self.api.lifecycle_for(message)
        # "4444": Plivo delivers it like any other, but its reports never reach us.
        silent = not reports and message.dst.endswith("4444")
        if silent:
            reports = [("queued", ""), ("sent", ""), ("delivered", "")]
        elif not message.url:
            return
        for index, (status, error_code) in enumerate(reports):
            delay = self.api.report_delays[min(index, len(self.api.report_delays) - 1)]
            self.schedule(message, status, error_code=error_code, delay=delay, sequence=index + 1, post=not silent)

    def schedule(self, message: FakeMessage, status: str, *, error_code: str = "", delay: float = 0.0,
                 sequence: int | None = None, post: bool = True):
        with self._condition:
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._counter), message, status, error_code,
                                         sequence, post))
            self._ensure_thread()
            self._condition.notify()

    def cancel_all(self):
        with self._condition:
            self._queue.clear()

    def _ensure_thread(self):
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="fake-plivo-reports", daemon=True)
            self._thread.start()

    def _run(self):
        while True:
            with self._condition:
                while not self._queue or self._queue[0][0] > time.monotonic():
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._condition.wait(timeout)
                _, _, message, status, error_code, sequence, post = heapq.heappop(self._queue)
                self._posting += 1
            try:
                if post:
                    self.post(message, status, error_code=error_code, sequence=sequence)
                else:
                    message.move_to(status, error_code)
            except Exception:  # a report that cannot be delivered is Plivo's problem, not ours
                logger.warning("fake Plivo could not deliver the %s report for %s", status, message.uuid, exc_info=True)
            finally:
                with self._condition:
                    self._posting -= 1

    def post(self, message: FakeMessage, status: str, *, error_code: str = "", sequence: int | None = None) -> int:
        from webhooks.signing import sign_v3

        message.reports.append(status)
        message.move_to(status, error_code)
        now = time.time()
        params = {
            "MessageUUID": message.uuid,
            "Status": status,
            "From": message.src.lstrip("+"),
            "To": message.dst.lstrip("+"),
            "Type": message.type,
            "Units": "1",
            "TotalRate": "0.00500",
            "TotalAmount": "0.00500",
            "MCC": "310",
            "MNC": "004",
            "MessageTime": plivo_time(message.created_at),
            "QueuedTime": plivo_time(message.created_at),
            "ParentMessageUUID": message.uuid,
            "PartInfo": "1 of 1",
            "PowerpackUUID": "",
        }
        if sequence is not None:
            params["Sequence"] = str(sequence)
        if status in ("sent", "delivered", "read", "undelivered"):
            params["SentTime"] = plivo_time(now)
        if status in ("delivered", "read", "undelivered", "failed"):
            params["DeliveryReportTime"] = plivo_time(now)
        if error_code:
            params["ErrorCode"] = error_code
        headers = sign_v3(url=message.url, params=params, auth_token=self.api.auth_token)
        response = self._session.post(message.url, data=params, headers=headers, timeout=10)
        return response.status_code
