"""Server time of the inbox's three hot reads on a large database: list, thread and search.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley_bench .venv/bin/python bench/seed_large.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley_bench .venv/bin/python bench/inbox_queries.py

Each request goes through the whole Django stack in-process (middleware, auth, DRF, the
selectors, serialization to JSON), signed in as a bench agent, with no network in between,
so the figure is the server's own time. Targets (issue 5): p95 under 50 ms for the list and
the thread, under 200 ms for search. Prints p50 / p95 / max per scenario and exits non-zero
when a target is missed.

Wall time on a shared machine counts the time other processes held the CPU. So each
request's CPU time is printed too: this thread's (Python) plus its PostgreSQL backend's
(from /proc/<pid>/schedstat), which is what the request costs on an otherwise idle server.
Parallel query is switched off for the session so that all of a query's work is in that
one backend.
"""

import argparse
import os
import random
import statistics
import sys
import time

from support import django_setup, percentile  # bench/support.py, beside this script

django_setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from conversations.models import Contact, Conversation  # noqa: E402

TARGETS_MS = {"list": 50, "thread": 50, "search": 200}


BACKEND = {"pid": None}


def backend_cpu_ns() -> int:
    """CPU time used so far by this connection's PostgreSQL backend (same machine only)."""
    try:
        with open(f"/proc/{BACKEND['pid']}/schedstat") as stat:
            return int(stat.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def timed(client, url, params=None, cpu_samples=None):
    cpu_before, backend_before = time.thread_time(), backend_cpu_ns()
    started = time.perf_counter()
    response = client.get(url, params or {}, HTTP_HOST="localhost")
    elapsed = (time.perf_counter() - started) * 1000
    if cpu_samples is not None:
        cpu_samples.append((time.thread_time() - cpu_before) * 1000 + (backend_cpu_ns() - backend_before) / 1e6)
    if response.status_code != 200:
        raise SystemExit(f"{url} {params} answered {response.status_code}: {response.content[:300]!r}")
    return elapsed, response.json()


def bench_client(script: str) -> Client:
    """A client signed in as the bench agent, this connection's backend watched for its CPU time
    and parallel query off (so all of a query's work is in that one backend)."""
    if connection.vendor != "postgresql":
        sys.exit(f"{script} measures PostgreSQL: set DATABASE_URL (seed it with bench/seed_large.py)")
    agent = get_user_model().objects.filter(username="bench1").first()
    if agent is None:
        sys.exit("No bench agent: run bench/seed_large.py against this database first.")
    client = Client()
    client.force_login(agent)
    with connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 0")
        cursor.execute("SELECT pg_backend_pid()")
        BACKEND["pid"] = cursor.fetchone()[0]
    return client


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="requests per scenario")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    client = bench_client("inbox_queries")
    rng = random.Random(args.seed)
    total_conversations = Conversation.objects.count()
    conversation_ids = list(Conversation.objects.values_list("pk", flat=True))
    names = list(Contact.objects.order_by("?").values_list("display_name", "phone")[:200])
    print(f"{total_conversations} conversations; {args.requests} requests per scenario\n")

    # Warm-up: connection, caches, query plans.
    for _ in range(20):
        timed(client, "/api/v1/conversations/", {"status": "open"})

    results = {}

    cpu: list = []

    def run(name, kind, make_request):
        cpu.clear()
        samples = [make_request() for _ in range(args.requests)]
        results[name] = (kind, samples, list(cpu))
        print(
            f"{name:<44} wall p50 {statistics.median(samples):6.1f}  p95 {percentile(samples, 0.95):6.1f}"
            f"  max {max(samples):6.1f} ms | cpu p50 {statistics.median(cpu):6.1f}  p95 {percentile(cpu, 0.95):6.1f} ms",
            flush=True,
        )

    def measured(url, params=None):
        return timed(client, url, params, cpu_samples=cpu)[0]

    views = [("me", "Mine"), ("none", "Unassigned"), (None, "All")]

    def list_first_page():
        assignee, _ = rng.choice(views)
        params = {"status": rng.choice(["open", "pending", "resolved"])}
        if assignee:
            params["assignee"] = assignee
        if rng.random() < 0.3:
            params["channel"] = rng.choice(["whatsapp", "sms"])
        return measured("/api/v1/conversations/", params)

    deep_cursors = []
    _, page = timed(client, "/api/v1/conversations/", {"status": "resolved"})
    for _ in range(60):  # walk 3,000 rows down the biggest tab
        _, page = timed(client, "/api/v1/conversations/", {"status": "resolved", "cursor": page["next_cursor"]})
        deep_cursors.append(page["next_cursor"])

    def list_deep_page():
        return measured("/api/v1/conversations/", {"status": "resolved", "cursor": rng.choice(deep_cursors)})

    def thread_newest():
        return measured(f"/api/v1/conversations/{rng.choice(conversation_ids)}/messages/")

    biggest = list(
        Conversation.objects.raw(
            "SELECT c.id FROM conversations_conversation c JOIN conversations_message m ON m.conversation_id = c.id "
            "GROUP BY c.id ORDER BY count(*) DESC LIMIT 20"
        )
    )
    older_cursors = []
    for conversation in biggest:
        _, page = timed(client, f"/api/v1/conversations/{conversation.pk}/messages/")
        if page["older_cursor"]:
            _, page = timed(client, f"/api/v1/conversations/{conversation.pk}/messages/", {"before": page["older_cursor"]})
            if page["older_cursor"]:
                older_cursors.append((conversation.pk, page["older_cursor"]))
    long_threads = older_cursors

    def thread_load_older():
        conversation_id, cursor = rng.choice(long_threads)
        return measured(f"/api/v1/conversations/{conversation_id}/messages/", {"before": cursor})

    def thread_header():
        return measured(f"/api/v1/conversations/{rng.choice(conversation_ids)}/")

    def search_name():
        name, _ = rng.choice(names)
        query = rng.choice([name, name.split()[0], name.split()[-1][:4]])
        return measured("/api/v1/conversations/", {"status": "resolved", "q": query})

    def search_phone():
        _, phone = rng.choice(names)
        start = rng.randint(2, len(phone) - 6)
        return measured("/api/v1/conversations/", {"q": phone[start : start + 6]})

    def search_text():
        query = rng.choice(
            ["refund", "damaged parcel", "tracking", "warranty", "reschedule appointment", "charger", "invoice", "deliv",
             "gluten", "cracked screen", "courier arrived late"]
        )
        return measured("/api/v1/conversations/", {"status": rng.choice(["open", "resolved"]), "q": query})

    run("list: first page (view x status x channel)", "list", list_first_page)
    run("list: a page 3,000 rows down (cursor)", "list", list_deep_page)
    run("thread: newest 50 messages", "thread", thread_newest)
    if long_threads:
        run("thread: load older in the longest threads", "thread", thread_load_older)
    run("thread: conversation detail", "thread", thread_header)
    run("search: contact name", "search", search_name)
    run("search: phone fragment", "search", search_phone)
    run("search: message text (full-text, prefix)", "search", search_text)

    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} (2 cores)")
    failed = False
    for kind, target in TARGETS_MS.items():
        samples = [s for k, values, _ in results.values() if k == kind for s in values]
        cpu_samples = [s for k, _, values in results.values() if k == kind for s in values]
        p95 = percentile(samples, 0.95)
        verdict = "OK" if p95 < target else "MISSED"
        failed |= p95 >= target
        print(f"{kind:<7} wall p95 {p95:6.1f} ms (target < {target} ms): {verdict};"
              f"  cpu p95 {percentile(cpu_samples, 0.95):6.1f} ms")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
