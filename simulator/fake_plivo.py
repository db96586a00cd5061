"""A fake of Plivo's Message API, the one stand-in for Plivo's servers in Parley.

This module holds the API's one state (accounts, messages, the rate limit, scripted special
numbers) and its HTTP plumbing. Beside it: what Plivo refuses (fake_plivo_validation.py), the
delivery reports it posts (fake_plivo_reports.py), and the Media API with the media customers
send (fake_plivo_media.py, reached through `FakePlivoAPI.media`).

The real `plivo` SDK talks to it over HTTP. It checks requests as Plivo does (basic auth,
src/dst/type, template / interactive / location structure), answers with Plivo's shapes and
status codes, and afterwards posts V3-signed delivery reports to each message's `url`, like
Plivo. The same class serves the local simulator (mounted in Django at /simulator/plivo/),
the test suite (`FakePlivoServer`, a threaded WSGI server on an ephemeral port) and the
benchmarks (`python -m simulator.fake_plivo --port 9100`).

Like Plivo's servers it takes time to answer (`latency`, with `jitter`) and enforces the
account's API limit: beyond `rate_limit` requests (300 per 5 s by default, counted over a
sliding window, sends and lookups alike) it answers 429. `GET Message/{uuid}/` answers with
Plivo's documented shape.

Destination numbers ending in special digits drive failure cases (see SPECIAL_NUMBERS);
tests can also queue faults explicitly with `fail_next()`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import random
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from conversations.plivo_errors import ERROR_NAMES
from simulator.fake_plivo_media import FakeMediaStore, RawBody
from simulator.fake_plivo_reports import DeliveryReporter, plivo_time
from simulator.fake_plivo_validation import PlivoValidationError, validate_message_request

MESSAGE_PATH = re.compile(r"^/v1/Account/(?P<auth_id>[^/]+)/Message/(?:(?P<uuid>[^/]+)/)?$")

# What each special destination suffix does; shown in the README and on the simulator page.
SPECIAL_NUMBERS = {
    "0000": f"accepted, then a `failed` report with error 50 ({ERROR_NAMES['50']})",
    "1111": f"accepted, then `sent` and an `undelivered` report with error 80 ({ERROR_NAMES['80']})",
    "2222": "the API answers 500 once, then accepts the retry",
    "3333": "the API answers 429 (rate limited) once, then accepts the retry",
    "4444": "accepted and delivered, but no delivery report ever arrives: Parley finds out by looking it up",
}
FAIL_ONCE_SUFFIXES = {"2222": 500, "3333": 429}


@dataclass
class Fault:
    """A scripted answer for the next matching request(s) to the Message API."""

    status: int = 500  # HTTP status to answer with; 0 = accept, then apply `delay`
    error: str = "internal server error"
    delay: float = 0.0  # seconds to wait before answering (beyond the client timeout = ambiguous)
    accept: bool = False  # store the message even though the answer is slow or an error
    count: int = 1
    retry_after: float | None = None  # sent as a Retry-After header


@dataclass
class FakeMessage:
    uuid: str
    auth_id: str
    src: str
    dst: str
    type: str
    body: dict
    url: str | None
    created_at: float = field(default_factory=time.time)
    reports: list = field(default_factory=list)  # statuses posted so far
    error_code: str = ""  # of the failed/undelivered report, once posted
    state: str = "queued"  # where the message is at Plivo, reported or not
    updated_at: float = field(default_factory=time.time)

    def as_plivo(self) -> dict:
        """`GET Message/{uuid}/` as Plivo answers it (the SDK's messageGetResponse.json fixture)."""
        failed = self.state in ("failed", "undelivered", "rejected")
        return {
            "api_id": str(uuid.uuid4()),
            "error_code": self.error_code if failed else ("000" if self.state in ("delivered", "read") else None),
            "from_number": self.src.lstrip("+"),
            "message_direction": "outbound",
            "message_state": self.state,
            "message_time": plivo_time(self.created_at, fraction=False),
            "message_type": self.type,
            "message_uuid": self.uuid,
            "resource_uri": f"/v1/Account/{self.auth_id}/Message/{self.uuid}/",
            "to_number": self.dst.lstrip("+"),
            "total_amount": "0.00500",
            "total_rate": "0.00500",
            "units": 1,
            "message_sent_time": plivo_time(self.created_at, offset=True),
            "message_updated_time": plivo_time(self.updated_at, offset=True),
            "error_message": ERROR_NAMES.get(self.error_code, "") if failed else "",
        }

    def move_to(self, state: str, error_code: str = "") -> None:
        self.state, self.updated_at = state, time.time()
        if error_code:
            self.error_code = error_code


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: dict | None
    status: int  # 401: the credentials were refused
    at: float = field(default_factory=time.monotonic)  # when it reached the server


class FakePlivoAPI:
    """Plivo's Message API for one account, in memory and thread-safe."""

    def __init__(self, *, auth_id: str, auth_token: str, report_delays=(0.5, 1.0, 2.0, 4.0),
                 auto_report: bool = True, transient_failure_rate: float = 0.0, seed: int | None = None,
                 read_receipts: str = "auto", latency: float = 0.0, jitter: float = 0.25,
                 rate_limit: tuple[int, float] | None = (300, 5.0), clock=time.monotonic, sleep=time.sleep):
        self.auth_id = auth_id
        # Seconds each request takes, half before it reaches the server and half for the answer,
        # each half varied by ±`jitter` of itself.
        self.latency = self._initial_latency = latency
        self.jitter = self._initial_jitter = jitter
        # (requests, seconds): Plivo's account limit, beyond which it answers 429; None: no limit.
        self.rate_limit = self._initial_rate_limit = rate_limit
        self._admitted: deque[float] = deque()
        self._clock, self._sleep = clock, sleep  # tests give their own
        self.auth_token = auth_token
        # Delays (seconds after acceptance) of the queued, sent, delivered and read reports.
        self.report_delays = tuple(report_delays)
        # "auto": WhatsApp messages are reported `read` after the last delay; "on_view": only
        # when `mark_read()` says the customer looked at them (the simulator's phone page).
        self.read_receipts = read_receipts
        self._read_marked: set[str] = set()
        # (src, dst) pairs blocked by the customer's STOP, as Plivo's DND does on US/CA numbers.
        self.carrier_opt_outs: set[tuple[str, str]] = set()
        self.auto_report = auto_report
        self.transient_failure_rate = transient_failure_rate
        self._random = random.Random(seed)
        self._latency_random = random.Random(None if seed is None else seed + 1)
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._failed_once: set[str] = set()
        self.messages: dict[str, FakeMessage] = {}
        self.requests: list[RecordedRequest] = []
        self.reporter = DeliveryReporter(self)
        self.media = FakeMediaStore(self)  # the Media API and the media customers send
        self.listeners = []  # callables(FakeMessage) told about every accepted message

    # --- test controls --------------------------------------------------------------------
    def reset(self):
        with self._lock:
            self._faults.clear()
            self._failed_once.clear()
            self.messages.clear()
            self.requests.clear()
            self._read_marked.clear()
            self.carrier_opt_outs.clear()
            self.transient_failure_rate = 0.0
            self.rate_limit = self._initial_rate_limit
            self.latency, self.jitter = self._initial_latency, self._initial_jitter
            self._admitted.clear()
        self.media.reset()
        self.reporter.cancel_all()

    def fail_next(self, status: int = 500, *, error: str | None = None, count: int = 1, delay: float = 0.0,
                  accept: bool = False, retry_after: float | None = None):
        """Answer the next `count` send requests with `status` (0 = accept after `delay`)."""
        with self._lock:
            self._faults.append(Fault(status=status, error=error or _default_error(status), delay=delay,
                                      accept=accept or status == 0, count=count, retry_after=retry_after))

    def faults_pending(self) -> int:
        """Scripted faults not yet taken; a fault is taken as soon as its request arrives, so a
        test can tell that a slow request is now in progress."""
        with self._lock:
            return sum(fault.count for fault in self._faults)

    @property
    def accepted(self) -> list[FakeMessage]:
        with self._lock:
            return sorted(self.messages.values(), key=lambda m: m.created_at)

    def sends(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and MESSAGE_PATH.match(r.path)]

    def lookups(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == "GET" and MESSAGE_PATH.match(r.path)]

    def set_state(self, message_uuid: str, state: str, *, error_code: str = "") -> None:
        """Move a message on at "Plivo" without any report (what a lookup then finds)."""
        with self._lock:
            self.messages[message_uuid].move_to(state, error_code)

    def forget(self, message_uuid: str) -> None:
        """Plivo no longer knows the message: a lookup answers 404."""
        with self._lock:
            self.messages.pop(message_uuid, None)

    # --- the HTTP surface -------------------------------------------------------------------
    def handle(self, method: str, path: str, authorization: str | None, body: bytes, **extra) -> tuple[int, dict]:
        status, answer, _ = self.respond(method, path, authorization, body, **extra)
        return status, answer

    def respond(self, method: str, path: str, authorization: str | None, body: bytes, *, content_type: str = "",
                query: str = "") -> tuple[int, dict | RawBody, dict]:
        """(status, JSON answer or a served file, extra headers) for one request, after the API's latency."""
        self._network_delay()
        try:
            if self.media.matches(path):
                return self._media_respond(method, path, authorization, body, content_type, query)
            return self._respond(method, path, authorization, body)
        finally:
            self._network_delay()

    def _media_respond(self, method, path, authorization, body, content_type, query):
        if not self._authorized(authorization) or f"/Account/{self.auth_id}/" not in path:
            return self._record(method, path, None, 401, {"error": "Authentication credentials invalid"})
        if not self._within_rate_limit():
            return self._record(method, path, None, 429, {"error": "too many requests"})
        status, answer, headers = self.media.respond(method, path, body, content_type, query)
        if isinstance(answer, RawBody):
            with self._lock:
                self.requests.append(RecordedRequest(method, path, None, status))
            return status, answer, headers
        return self._record(method, path, None, status, answer, headers)

    def _network_delay(self) -> None:
        if self.latency:
            half = self.latency / 2
            self._sleep(max(0.0, half * (1 + self.jitter * (2 * self._latency_random.random() - 1))))

    def _respond(self, method: str, path: str, authorization: str | None, body: bytes) -> tuple[int, dict, dict]:
        match = MESSAGE_PATH.match(path)
        if not match:
            return self._record(method, path, None, 404, {"error": "not found"})
        authorized = self._authorized(authorization) and match["auth_id"] == self.auth_id
        if not authorized:
            return self._record(method, path, None, 401, {"error": "Authentication credentials invalid"})
        if not self._within_rate_limit():
            return self._record(method, path, None, 429, {"error": "too many requests"})
        if method == "GET" and match["uuid"]:
            with self._lock:
                message = self.messages.get(match["uuid"])
                answer = message.as_plivo() if message is not None else None
            if answer is None:
                return self._record(method, path, None, 404, {"error": "not found"})
            return self._record(method, path, None, 200, answer)
        if method != "POST" or match["uuid"]:
            return self._record(method, path, None, 405, {"error": "method not allowed"})
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError
        except ValueError:
            return self._record(method, path, None, 400, {"error": "invalid JSON body"})
        return self._send(path, payload)

    def _within_rate_limit(self) -> bool:
        """Admit one more request unless `rate_limit` requests were admitted in the last window."""
        if self.rate_limit is None:
            return True
        most, seconds = self.rate_limit
        now = self._clock()
        with self._lock:
            while self._admitted and self._admitted[0] <= now - seconds:
                self._admitted.popleft()
            if len(self._admitted) >= most:
                return False
            self._admitted.append(now)
            return True

    def _send(self, path: str, payload: dict) -> tuple[int, dict, dict]:
        try:
            validate_message_request(payload)
            for media_id in payload.get("media_ids") or []:
                if self.media.get(str(media_id)) is None:
                    raise PlivoValidationError(f"media_id {media_id} not found")
        except PlivoValidationError as exc:
            return self._record("POST", path, payload, 400, {"error": str(exc)})
        fault = self._take_fault(payload)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and not fault.accept:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return self._record("POST", path, payload, fault.status, {"error": fault.error}, headers)
        message = FakeMessage(
            uuid=str(uuid.uuid4()), auth_id=self.auth_id, src=payload.get("src") or "", dst=payload["dst"],
            type=payload.get("type", "sms"), body=payload, url=payload.get("url"),
        )
        with self._lock:
            self.messages[message.uuid] = message
        for listener in list(self.listeners):
            listener(message)
        if self.auto_report:
            self.reporter.schedule_lifecycle(message)
        status = fault.status if fault is not None and fault.status else 202
        return self._record("POST", path, payload, status, {
            "api_id": str(uuid.uuid4()), "message": "message(s) queued", "message_uuid": [message.uuid],
        })

    def _take_fault(self, payload: dict) -> Fault | None:
        with self._lock:
            if self._faults:
                fault = self._faults[0]
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.pop(0)
                return fault
            suffix = payload["dst"][-4:]
            if suffix in FAIL_ONCE_SUFFIXES:
                key = json.dumps(payload, sort_keys=True)
                if key not in self._failed_once:
                    self._failed_once.add(key)
                    status = FAIL_ONCE_SUFFIXES[suffix]
                    return Fault(status=status, error=_default_error(status))
                self._failed_once.discard(key)
            if self.transient_failure_rate and self._random.random() < self.transient_failure_rate:
                status = self._random.choice((500, 502, 503, 429))
                return Fault(status=status, error=_default_error(status))
        return None

    def _authorized(self, authorization: str | None) -> bool:
        if not authorization or not authorization.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(authorization[6:]).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.auth_id and password == self.auth_token

    def _record(self, method, path, body, status, answer, headers=None) -> tuple[int, dict, dict]:
        if "api_id" not in answer:
            answer = {"api_id": str(uuid.uuid4()), **answer}
        with self._lock:
            self.requests.append(RecordedRequest(method, path, body, status))
        return status, answer, headers or {}

    # --- delivery reports -----------------------------------------------------------------------
    def lifecycle_for(self, message: FakeMessage) -> list[tuple[str, str]]:
        """(status, error code) reports Plivo would send for `message`, by destination suffix."""
        suffix = message.dst[-4:]
        if suffix == "4444":
            return []
        if (message.src.lstrip("+"), message.dst.lstrip("+")) in self.carrier_opt_outs:
            return [("queued", ""), ("failed", "200")]
        if suffix == "0000":
            return [("queued", ""), ("failed", "50")]
        if suffix == "1111":
            return [("queued", ""), ("sent", ""), ("undelivered", "80")]
        statuses = [("queued", ""), ("sent", ""), ("delivered", "")]
        if message.type == "whatsapp" and self.read_receipts == "auto":
            statuses.append(("read", ""))
        return statuses

    def mark_read(self, *, dst: str) -> list[str]:
        """The customer at `dst` saw their chat: report `read` for every delivered WhatsApp
        message to them not yet reported read (with read_receipts="on_view")."""
        if self.read_receipts != "on_view":
            return []  # "auto" reports read on its own schedule
        dst = dst.lstrip("+")
        with self._lock:
            due = [m for m in self.messages.values()
                   if m.type == "whatsapp" and m.dst.lstrip("+") == dst and m.url
                   and m.reports and m.reports[-1] == "delivered" and m.uuid not in self._read_marked]
            self._read_marked.update(m.uuid for m in due)
        for message in due:
            self.reporter.schedule(message, "read", sequence=len(message.reports) + 1)
        return [m.uuid for m in due]

    def report(self, message_uuid: str, status: str, *, error_code: str = "", sequence: int | None = None) -> int:
        """Post one signed delivery report for a message now; returns the webhook's HTTP status."""
        with self._lock:
            message = self.messages[message_uuid]
        return self.reporter.post(message, status, error_code=error_code, sequence=sequence)


def _default_error(status: int) -> str:
    return {
        400: "invalid request",
        401: "Authentication credentials invalid",
        404: "not found",
        429: "too many requests",
        500: "internal server error",
        502: "bad gateway",
        503: "service unavailable",
    }.get(status, "error")


# --- serving it over HTTP --------------------------------------------------------------------
def make_wsgi_app(api: FakePlivoAPI):
    def app(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        status, answer, headers = api.respond(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                                              environ.get("HTTP_AUTHORIZATION"), body,
                                              content_type=environ.get("CONTENT_TYPE", ""),
                                              query=environ.get("QUERY_STRING", ""))
        if isinstance(answer, RawBody):
            data, content_type = answer.data, answer.content_type
        else:
            data, content_type = json.dumps(answer).encode(), "application/json"
        start_response(f"{status} {_reason(status)}", [("Content-Type", content_type),
                                                       ("Content-Length", str(len(data))), *headers.items()])
        return [data]

    return app


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class FakePlivoServer:
    """The fake API on a real socket: `with FakePlivoServer(api) as server: server.base_url`."""

    def __init__(self, api: FakePlivoAPI, host: str = "127.0.0.1", port: int = 0):
        self.api = api
        self._server = make_server(host, port, make_wsgi_app(api), server_class=_ThreadingWSGIServer,
                                   handler_class=_QuietHandler)
        self.base_url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-plivo", daemon=True)

    def start(self) -> "FakePlivoServer":
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


_default_api: FakePlivoAPI | None = None
_default_lock = threading.Lock()


def default_api() -> FakePlivoAPI:
    """The process-wide fake account the local simulator serves (credentials from settings)."""
    global _default_api
    with _default_lock:
        if _default_api is None:
            from django.conf import settings

            _default_api = FakePlivoAPI(auth_id=settings.PLIVO_AUTH_ID, auth_token=settings.PLIVO_AUTH_TOKEN)
            _default_api.base_url = settings.PLIVO_API_BASE_URL  # where its media URLs point
        return _default_api


def parse_rate_limit(text: str) -> tuple[int, float] | None:
    """ "300/5" (or "300/5s") as (300, 5.0); "none" for no limit."""
    if text.strip().lower() == "none":
        return None
    requests_, _, seconds = text.strip().rstrip("s").partition("/")
    return int(requests_), float(seconds or 1)


def main():
    parser = argparse.ArgumentParser(description="Serve the fake Plivo Message API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--auth-id", default="MAPARLEYSIMULATOR000")
    parser.add_argument("--auth-token", default="parley-simulator-auth-token")
    parser.add_argument("--transient-failure-rate", type=float, default=0.0)
    parser.add_argument("--latency", type=float, default=0.0, help="Seconds each request takes (e.g. 0.2).")
    parser.add_argument("--jitter", type=float, default=0.25, help="Latency varies by ± this share of itself.")
    parser.add_argument("--rate-limit", default="300/5", help='The account limit, "requests/seconds", or "none".')
    parser.add_argument("--no-reports", action="store_true")
    args = parser.parse_args()
    api = FakePlivoAPI(auth_id=args.auth_id, auth_token=args.auth_token, auto_report=not args.no_reports,
                       transient_failure_rate=args.transient_failure_rate, seed=1, latency=args.latency,
                       jitter=args.jitter, rate_limit=parse_rate_limit(args.rate_limit))
    server = FakePlivoServer(api, args.host, args.port)
    print(f"fake Plivo API on {server.base_url}", flush=True)
    server._server.serve_forever()


if __name__ == "__main__":
    main()
