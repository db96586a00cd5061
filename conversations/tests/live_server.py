"""The real ASGI app (daphne) in a subprocess, and Plivo-signed requests to it.

Used by the browser tests and `bench/live_latency.py`: WebSockets need a real server, and a
subprocess reads the same database (the SQLite test database is a file; on PostgreSQL it is
the test database) and, with REDIS_URL, the same channel layer.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.db import connection

from webhooks.signing import sign_v3

BASE_DIR = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_for_current_connection() -> str:
    """A DATABASE_URL naming the database this process is connected to (the test database)."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{params['NAME']}"


class LiveServer:
    running: set["LiveServer"] = set()  # for the failure report (conftest.py shows their logs)

    def __init__(self, *, database_url: str, log_path: Path, extra_env: dict | None = None,
                 webhook_worker_process: bool = False):
        """`webhook_worker_process`: apply webhooks in a `run_webhook_worker` process beside the
        server, as production does, instead of in a thread of the server."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.media_root = str(log_path.parent / "media")
        env = dict(os.environ)
        env.update(
            {
                "DEBUG": "true",
                "DATABASE_URL": database_url,
                "PORT": str(self.port),
                "PUBLIC_BASE_URL": self.url,
                # Delivery reports come from the test (signed webhooks), not from a worker.
                "OUTBOUND_WORKER_EMBEDDED": "false",
                # Received webhooks are applied in the server process, as with `make run`.
                "WEBHOOK_WORKER_EMBEDDED": "true",
                "LOG_LEVEL": "WARNING",
                # Its own storage, not the checkout's media/ folder.
                "MEDIA_ROOT": self.media_root,
                **(extra_env or {}),
            }
        )
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        if webhook_worker_process:
            env["WEBHOOK_WORKER_EMBEDDED"] = "false"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.worker = None
        if webhook_worker_process:
            self.worker = subprocess.Popen(
                [sys.executable, "manage.py", "run_webhook_worker"], cwd=BASE_DIR, env=env,
                stdout=self._log, stderr=subprocess.STDOUT,
            )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "messaging_site.asgi:application"],
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        LiveServer.running.add(self)
        self._wait_ready()

    def log_tail(self, size: int = 4000) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace")
        return text[-size:]

    def _wait_ready(self, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited early; see {self.log_path}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/healthz/", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daphne did not answer within {timeout} s; see {self.log_path}")

    def stop(self):
        LiveServer.running.discard(self)
        for process in (self.process, self.worker):
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._log.close()

    # --- Plivo's callbacks, signed as Plivo signs them ------------------------------------------
    def post_signed(self, path: str, params: dict, *, wait_applied: bool = True) -> requests.Response:
        """Post as Plivo does; then (by default) wait until the server's webhook worker has
        applied it, so the caller can read the result from the database."""
        url = self.url + path
        headers = sign_v3(url=url, params=params, auth_token=settings.PLIVO_AUTH_TOKEN)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = requests.post(url, data=urlencode(params), headers=headers, timeout=10)
        response.raise_for_status()
        if wait_applied:
            self.wait_receipts_applied()
        return response

    def wait_receipts_applied(self, timeout: float = 10.0) -> None:
        from webhooks.models import WebhookReceipt

        deadline = time.monotonic() + timeout
        while WebhookReceipt.objects.pending().exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"the server's webhook worker applied nothing for {timeout} s; see {self.log_path}")
            time.sleep(0.01)

    def inbound_whatsapp(self, *, from_number: str, text: str, profile_name: str = "", message_uuid: str | None = None):
        params = {
            "From": from_number.lstrip("+"),
            "To": settings.PLIVO_WHATSAPP_NUMBER.lstrip("+"),
            "Type": "whatsapp",
            "ContentType": "text",
            "Body": text,
            "MessageUUID": message_uuid or str(uuid.uuid4()),
            "Units": "1",
        }
        if profile_name:
            params["ProfileName"] = profile_name
        return self.post_signed("/webhooks/plivo/message/", params)

    def status_report(self, *, message_id: int, message_uuid: str, to_number: str, status: str, sequence: int,
                      error_code: str = ""):
        params = {
            "From": settings.PLIVO_WHATSAPP_NUMBER.lstrip("+"),
            "To": to_number.lstrip("+"),
            "Type": "whatsapp",
            "Status": status,
            "MessageUUID": message_uuid,
            "Sequence": str(sequence),
            "ErrorCode": error_code,
            "Units": "1",
        }
        return self.post_signed(f"/webhooks/plivo/status/?ref={message_id}", params)
