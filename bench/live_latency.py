"""Time from a signed inbound webhook to the message being on a second agent's screen.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley_live REDIS_URL=redis://127.0.0.1:6379/3 \\
        .venv/bin/python bench/live_latency.py --messages 100

Starts the real ASGI app (daphne) on a free port against DATABASE_URL (migrated here; use a
database of its own, it gets a few rows) with, on PostgreSQL, a `run_webhook_worker` process
beside it as in production (on SQLite the server's embedded worker), opens the inbox in
Chromium for two agents, then
posts Plivo-signed inbound WhatsApp webhooks one after another. For each, the clock starts
before the POST and stops when a MutationObserver in agent B's page sees the text in the DOM
(list row or open thread). Both clocks are this machine's wall clock. Target (issue 5): p95
under 300 ms. Without DATABASE_URL it runs on a throwaway SQLite file.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from support import django_setup, percentile  # bench/support.py, beside this script

if not os.environ.get("DATABASE_URL"):
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='parley-live-')}/live.sqlite3"
django_setup(SECRET_KEY="parley-live-latency-bench-key-not-secret-0123456789abcdef")

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402

from conversations.permissions import AGENTS_GROUP  # noqa: E402
from conversations.tests.browser import chromium_launch, session_cookie  # noqa: E402
from conversations.tests.live_server import LiveServer  # noqa: E402

OBSERVER = """
window.__seen = {};
new MutationObserver((mutations) => {
  const now = Date.now();
  for (const mutation of mutations) {
    const nodes = mutation.type === "characterData" ? [mutation.target] : Array.from(mutation.addedNodes);
    for (const node of nodes) {
      const text = node.textContent || "";
      for (const match of text.matchAll(/latency-probe-(\\d+)-end/g)) {
        if (!(match[1] in window.__seen)) window.__seen[match[1]] = now;
      }
    }
  }
}).observe(document.body, {childList: true, subtree: true, characterData: true});
"""


def agent(username: str):
    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"first_name": username.title()})
    user.groups.add(Group.objects.get_or_create(name=AGENTS_GROUP)[0])
    return user


def wait_until(page, function: str, arg=None, timeout: float = 10.0):
    """Poll from Python: page.wait_for_function evaluates strings, which the inbox's CSP forbids.
    The page records its own timestamps, so the polling interval does not affect the figures."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(function, arg)
        if value:
            return value
        time.sleep(0.005)
    raise TimeoutError(f"{function} stayed false for {timeout} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--customers", type=int, default=10, help="distinct senders the messages rotate through")
    parser.add_argument("--gap-ms", type=int, default=100, help="pause between webhooks")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    call_command("migrate", verbosity=0)
    alice, bob = agent("latency-alice"), agent("latency-bob")
    log = Path(tempfile.mkdtemp(prefix="parley-live-log-")) / "daphne.log"
    # On PostgreSQL, as in production: webhooks are applied by a worker process beside daphne.
    server = LiveServer(database_url=os.environ["DATABASE_URL"], log_path=log,
                        webhook_worker_process=settings.DATABASE_IS_POSTGRES)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls next to Playwright's event loop
    print(f"server {server.url} ({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
          f"{'Redis' if settings.REDIS_URL else 'in-memory'} channel layer); log {log}", flush=True)
    latencies = []
    try:
        with sync_playwright() as playwright:
            browser = chromium_launch(playwright)
            pages = []
            for user in (alice, bob):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.add_cookies([session_cookie(user, server.url)])
                page = context.new_page()
                page.goto(server.url + "/inbox/")
                wait_until(page, "() => document.getElementById('connection').dataset.state === 'live'")
                pages.append(page)
            watcher = pages[1]
            watcher.evaluate(OBSERVER)
            run = uuid.uuid4().hex[:8]
            for n in range(args.messages):
                phone = f"+1415555{7000 + n % args.customers:04d}"
                started_ms = time.time() * 1000
                server.inbound_whatsapp(from_number=phone, text=f"Hello from {run}: latency-probe-{n}-end",
                                        profile_name=f"Latency {n % args.customers}")
                seen_ms = wait_until(watcher, "(n) => window.__seen[n]", n)
                latencies.append(seen_ms - started_ms)
                time.sleep(args.gap_ms / 1000)
            browser.close()
    finally:
        server.stop()

    p95 = percentile(latencies, 0.95)
    print(f"{len(latencies)} webhooks -> visible in agent B's page: p50 {statistics.median(latencies):.0f} ms, "
          f"p95 {p95:.0f} ms, max {max(latencies):.0f} ms (target p95 < 300 ms): {'OK' if p95 < 300 else 'MISSED'}")
    sys.exit(0 if p95 < 300 else 1)


if __name__ == "__main__":
    main()
