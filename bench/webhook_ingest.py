"""Benchmark: signed Plivo webhooks against the real app, side by side with a trivial view.

Serves Parley with daphne (or `--server uvicorn`, after `pip install "uvicorn[standard]"`; one
process either way) on PostgreSQL (+ Redis when REDIS_URL is set), then
drives it with 16 concurrent keep-alive clients in this order, all in one run:

  trivial   GET /healthz/                      (the same server's cheapest view)
  inbound   POST /webhooks/plivo/message/      (signed SMS/WhatsApp messages, ~5% Plivo retries)
  status    POST /webhooks/plivo/status/?ref=  (signed reports, shuffled out of order, ~5% retries)
  (those three alternate in --rounds short phases, so load changes on the machine hit all alike)
  mixed     inbound + status + trivial interleaved in one phase

The webhook views answer once the signed callback is committed as a receipt; a webhook
worker process (`manage.py run_webhook_worker`, as in production) applies receipts to the
inbox meanwhile. After each webhook phase the benchmark waits until the worker has caught up
(so its work never overlaps a trivial phase), and reports how long after its receipt each
callback reached the inbox, and the worker's CPU per callback.

Afterwards every row is accounted for in the database: each distinct inbound MessageUUID is
stored exactly once (and announced exactly once), each distinct report is stored once, every
outbound message ends in its lifecycle's final status, and no receipt is left unapplied.

    createdb -h 127.0.0.1 -U postgres parley_webhooks_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley_webhooks_bench REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python bench/webhook_ingest.py [--clients 16] [--inbound 3000] [--outbound 700]

The database is wiped (manage.py flush): its name must contain "bench".
Targets (issue 3): webhook throughput >= 0.5x the trivial view's, p99 < 100 ms, zero lost or duplicated.
"""

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid as uuidlib
from pathlib import Path
from urllib.parse import urlencode

from support import (  # bench/support.py, beside this script
    BENCH_PUBLIC_BASE_URL as PUBLIC_BASE_URL,  # as behind a TLS proxy: Plivo calls (and signs) https
    PYTHON,
    ROOT,
    django_setup,
    free_port,
    percentile,
    production_env,
    wipeable_database_url,
)

AUTH_TOKEN = secrets.token_urlsafe(24)
LIFECYCLE = [("queued", 1), ("sent", 2), ("delivered", 3), ("read", 4)]


def server_env(port: int) -> dict:
    return production_env(PLIVO_AUTH_TOKEN=AUTH_TOKEN, SECURE_SSL_REDIRECT="false", BEHIND_TLS_PROXY="false",
                          WEBHOOK_WORKER_EMBEDDED="false", PORT=str(port))


def server_command(server: str, port: int, app: str) -> list[str]:
    if server == "uvicorn":
        try:
            import uvicorn  # noqa: F401
        except ImportError:
            sys.exit('--server uvicorn needs uvicorn: .venv/bin/pip install "uvicorn[standard]"')
        return [str(PYTHON), "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                "--no-access-log", "--log-level", "warning", app]
    return [str(PYTHON), "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app]


def manage(env, *args):
    subprocess.run([str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


# --- requests --------------------------------------------------------------------------------


def http_request(method: str, path: str, port: int, *, body: bytes = b"", headers: dict | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: keep-alive"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if method == "POST":
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def signed_post(path: str, params: dict, port: int) -> bytes:
    from webhooks.signing import sign_v3

    headers = sign_v3(url=PUBLIC_BASE_URL + path, params=params, auth_token=AUTH_TOKEN)
    return http_request("POST", path, port, body=urlencode(params).encode(), headers=headers)


def inbound_requests(count: int, port: int, rng: random.Random) -> tuple[list, set]:
    requests, uuids = [], set()
    for n in range(count):
        whatsapp = n % 2 == 0
        message_uuid = str(uuidlib.uuid4())
        uuids.add(message_uuid)
        params = {
            "From": f"1415555{2000 + n % 400:04d}",  # 400 customers, several messages each
            "To": "14155550100" if whatsapp else "14155550199",
            "Type": "whatsapp" if whatsapp else "sms",
            "MessageUUID": message_uuid,
            "Units": "1",
            "TotalRate": "0.00000",
            "TotalAmount": "0.00000",
        }
        if whatsapp:
            params.update(ContentType="text", Body=f"Bench message {n}: where is my order?", ProfileName=f"Customer {n % 400}")
        else:
            params.update(Text=f"Bench message {n}: where is my order?", MessageIntent="")
        requests.append(("inbound", signed_post("/webhooks/plivo/message/", params, port)))
        if rng.random() < 0.05:  # Plivo's retry of the same message
            requests.append(("inbound", requests[-1][1]))
    rng.shuffle(requests)
    return requests, uuids


def status_requests(outbound: list[tuple[int, str]], port: int, rng: random.Random) -> tuple[list, int]:
    requests, distinct = [], 0
    for message_id, message_uuid in outbound:
        for status, sequence in LIFECYCLE:
            params = {
                "From": "14155550100", "To": "14155550123", "Type": "whatsapp", "MessageUUID": message_uuid,
                "Status": status, "Sequence": str(sequence), "ErrorCode": "", "Units": "1",
                "TotalRate": "0.00500", "TotalAmount": "0.00500", "MCC": "310", "MNC": "260",
            }
            requests.append(("status", signed_post(f"/webhooks/plivo/status/?ref={message_id}", params, port)))
            distinct += 1
            if rng.random() < 0.05:
                requests.append(("status", requests[-1][1]))
    rng.shuffle(requests)  # reports arrive in any order
    return requests, distinct


def seed_outbound(count: int) -> list[tuple[int, str]]:
    """Outbound messages as the send path leaves them: accepted by Plivo, reports pending."""
    from conversations.models import Message
    from conversations.services.contacts import contact_get_or_create
    from conversations.services.conversations import conversation_get_or_create

    rows = []
    for n in range(count):
        contact, _ = contact_get_or_create(phone=f"+1415555{7000 + n % 300:04d}")
        conversation, _ = conversation_get_or_create(contact=contact, channel="whatsapp")
        message = Message.objects.create(
            conversation=conversation, direction="outbound", status="sending", text=f"Reply {n}",
            plivo_message_uuid=str(uuidlib.uuid4()),
        )
        rows.append((message.pk, message.plivo_message_uuid))
    return rows


# --- load --------------------------------------------------------------------------------------


async def read_response(reader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip() for line in lines[1:] if ":" in line}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def drive(port: int, requests: list, clients: int) -> dict:
    queue = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: dict[str, list[float]] = {}
    statuses: dict[str, dict[int, int]] = {}

    async def client():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                try:
                    kind, raw = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                writer.write(raw)
                status = await read_response(reader)
                latencies.setdefault(kind, []).append(time.perf_counter() - started)
                counts = statuses.setdefault(kind, {})
                counts[status] = counts.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "latencies": latencies, "statuses": statuses, "total": len(requests)}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def receipts_drained(timeout: float = 300.0) -> float:
    """Wait until the webhook worker has applied every receipt; seconds waited."""
    from django.db import close_old_connections

    from webhooks.models import WebhookReceipt

    started = time.monotonic()
    while WebhookReceipt.objects.pending().exists():
        if time.monotonic() - started > timeout:
            sys.exit(f"the webhook worker did not catch up within {timeout:.0f} s")
        time.sleep(0.02)
    close_old_connections()
    return time.monotonic() - started


def measured(pid: int, port: int, requests: list, clients: int, worker_pid: int) -> dict:
    server_before, worker_before = process_cpu_seconds(pid), process_cpu_seconds(worker_pid)
    result = asyncio.run(drive(port, requests, clients))
    result["server_cpu_ms"] = 1000 * (process_cpu_seconds(pid) - server_before) / len(requests)
    result["catch_up_s"] = receipts_drained()
    result["worker_cpu_ms"] = 1000 * (process_cpu_seconds(worker_pid) - worker_before) / len(requests)
    return result


def merge(results: list[dict]) -> dict:
    """Several runs of one kind as if they were one phase (time, latencies and CPU added up)."""
    merged = {"elapsed": 0.0, "latencies": {}, "statuses": {}, "total": 0, "server_cpu_ms": 0.0,
              "worker_cpu_ms": 0.0, "catch_up_s": 0.0}
    for r in results:
        merged["elapsed"] += r["elapsed"]
        merged["total"] += r["total"]
        merged["server_cpu_ms"] += r["server_cpu_ms"] * r["total"]
        merged["worker_cpu_ms"] += r["worker_cpu_ms"] * r["total"]
        merged["catch_up_s"] = max(merged["catch_up_s"], r["catch_up_s"])
        for kind, values in r["latencies"].items():
            merged["latencies"].setdefault(kind, []).extend(values)
        for kind, counts in r["statuses"].items():
            for code, n in counts.items():
                merged["statuses"].setdefault(kind, {})[code] = merged["statuses"].get(kind, {}).get(code, 0) + n
    merged["server_cpu_ms"] /= merged["total"]
    merged["worker_cpu_ms"] /= merged["total"]
    return merged


def summarize(name: str, result: dict) -> dict:
    rows = {}
    for kind, values in sorted(result["latencies"].items()):
        ordered = sorted(values)
        rows[kind] = {
            "requests": len(values),
            "req_per_s": len(values) / result["elapsed"] if len(result["latencies"]) == 1 else None,
            "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * percentile(ordered, 0.99),
            "max_ms": 1000 * ordered[-1],
            "statuses": result["statuses"][kind],
        }
    total_rate = result["total"] / result["elapsed"]
    cpu = f"; server CPU {result['server_cpu_ms']:.2f} ms per request"
    if result.get("catch_up_s") is not None and result["worker_cpu_ms"] > 0.05:
        cpu += (f"\n  webhook worker: CPU {result['worker_cpu_ms']:.2f} ms per request, "
                f"caught up {1000 * result['catch_up_s']:.0f} ms after the last answer")
    print(f"\n{name}: {result['total']} requests in {result['elapsed']:.2f} s = {total_rate:.0f} req/s{cpu}")
    for kind, row in rows.items():
        rate = f"{row['req_per_s']:.0f} req/s, " if row["req_per_s"] else ""
        print(f"  {kind:8} {rate}p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, max {row['max_ms']:.1f} ms, "
              f"HTTP {row['statuses']}")
    return {"total_req_per_s": total_rate, "server_cpu_ms": result["server_cpu_ms"],
            "worker_cpu_ms": result.get("worker_cpu_ms"), "catch_up_s": result.get("catch_up_s"), **rows}


# --- main --------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--inbound", type=int, default=3000, help="distinct inbound messages")
    parser.add_argument("--outbound", type=int, default=700, help="outbound messages, 4 reports each")
    parser.add_argument("--trivial", type=int, default=3000, help="requests to the trivial view per trivial phase")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of trivial/inbound/status phases")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--app", default="messaging_site.asgi:application", help="ASGI application to serve")
    parser.add_argument("--server", choices=["daphne", "uvicorn"], default="daphne", help="ASGI server (one process either way)")
    args = parser.parse_args()

    wipeable_database_url()

    port = free_port()
    env = server_env(port)
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "messaging_site.settings"
    manage(env, "migrate", "--no-input")
    manage(env, "flush", "--no-input")

    django_setup()
    from django.db import connection

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    # The channel layer starts empty like the database: sockets left in the inbox group by an
    # earlier run (or a test suite sharing this Redis db) would add fan-out no agent sees.
    async_to_sync(get_channel_layer().flush)()

    rng = random.Random(args.seed)
    outbound = seed_outbound(args.outbound)
    inbound, inbound_uuids = inbound_requests(args.inbound, port, rng)
    statuses, distinct_reports = status_requests(outbound, port, rng)
    mixed_inbound, mixed_uuids = inbound_requests(args.inbound // 3, port, rng)
    mixed_outbound = seed_outbound(args.outbound // 3)
    mixed_status, mixed_reports = status_requests(mixed_outbound, port, rng)
    trivial = [("trivial", http_request("GET", "/healthz/", port))]
    mixed = mixed_inbound + mixed_status + trivial * ((len(mixed_inbound) + len(mixed_status)) // 2)
    rng.shuffle(mixed)
    connection.close()

    server = subprocess.Popen(
        server_command(args.server, port, args.app),
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    worker = subprocess.Popen(
        [str(PYTHON), "manage.py", "run_webhook_worker"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    figures = {}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("daphne did not start:\n" + server.stderr.read().decode()[-2000:])
                time.sleep(0.2)

        print(f"{args.server} on 127.0.0.1:{port}, PostgreSQL {connection.settings_dict['NAME']}, "
              f"Redis {'on' if os.environ.get('REDIS_URL') else 'off'}, {args.clients} clients")
        asyncio.run(drive(port, trivial * 300, args.clients))  # warm-up
        pid, clients, worker_pid = server.pid, args.clients, worker.pid
        # Alternate short phases so that a change in the machine's load hits every kind alike.
        work = {"trivial": trivial * args.trivial, "inbound": inbound, "status": statuses}
        rounds = {kind: [] for kind in work}
        for round_ in range(args.rounds):
            for kind, requests in work.items():
                part = requests[round_ * len(requests) // args.rounds:(round_ + 1) * len(requests) // args.rounds]
                rounds[kind].append(measured(pid, port, part, clients, worker_pid))
        titles = {"trivial": "trivial view", "inbound": "inbound webhooks", "status": "status webhooks"}
        for kind in work:
            figures[kind] = summarize(f"{titles[kind]} ({args.rounds} rounds)", merge(rounds[kind]))
        figures["mixed"] = summarize("mixed (inbound + status + trivial)", measured(pid, port, mixed, clients, worker_pid))
    finally:
        for process in (server, worker):
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    trivial_rate = figures["trivial"]["trivial"]["req_per_s"]
    ratios = {kind: figures[kind][kind]["req_per_s"] / trivial_rate for kind in ("inbound", "status")}
    per_round = {
        kind: [len(r["latencies"][kind]) / r["elapsed"] / (len(t["latencies"]["trivial"]) / t["elapsed"])
               for r, t in zip(rounds[kind], rounds["trivial"])]
        for kind in ("inbound", "status")
    }
    p99 = max(figures[kind][kind]["p99_ms"] for kind in ("inbound", "status"))
    p99_mixed = max(figures["mixed"][kind]["p99_ms"] for kind in ("inbound", "status"))
    accounting = account(inbound_uuids | mixed_uuids, outbound + mixed_outbound, distinct_reports + mixed_reports)

    print("\nresult")
    print(f"  throughput vs trivial view: inbound {ratios['inbound']:.2f}x, status {ratios['status']:.2f}x "
          f"(target >= 0.5x; trivial {trivial_rate:.0f} req/s)")
    print("  per round: " + "; ".join(f"{kind} " + " ".join(f"{ratio:.2f}" for ratio in values) for kind, values in per_round.items()))
    print(f"  webhook p99: {p99:.1f} ms alone, {p99_mixed:.1f} ms mixed (target < 100 ms)")
    for kind, delays in apply_delays().items():
        print(f"  {kind} receipt -> applied in the inbox: p50 {delays['p50_ms']:.0f} ms, p99 {delays['p99_ms']:.0f} ms, "
              f"max {delays['max_ms']:.0f} ms ({args.clients} clients flat out; the worker lags while the server outpaces it)")
    for line, ok in accounting["checks"]:
        print(f"  {'ok ' if ok else 'BAD'} {line}")
    non_200 = {
        f"{phase}/{kind}": row["statuses"]
        for phase, rows in figures.items()
        for kind, row in rows.items()
        if isinstance(row, dict) and set(row["statuses"]) != {200}
    }
    print(f"  {'ok ' if not non_200 else 'BAD'} every response was 200 {non_200 or ''}")
    if args.json:
        Path(args.json).write_text(json.dumps({"figures": figures, "ratios": ratios, "accounting": accounting}, indent=2, default=str))
    healthy = all(ok for _, ok in accounting["checks"]) and not non_200
    sys.exit(0 if healthy else 1)


def apply_delays() -> dict:
    """How long after its receipt was committed each callback was applied, per kind."""
    from webhooks.models import WebhookReceipt

    delays = {}
    for kind in WebhookReceipt.Kind.values:
        values = sorted(
            (applied - received).total_seconds()
            for received, applied in WebhookReceipt.objects.filter(kind=kind).values_list("received_at", "applied_at")
        )
        if values:
            delays[kind] = {"p50_ms": 1000 * statistics.median(values),
                            "p99_ms": 1000 * percentile(values, 0.99),
                            "max_ms": 1000 * values[-1]}
    return delays


def account(inbound_uuids: set, outbound: list, distinct_reports: int) -> dict:
    from django.db.models import Count

    from conversations.models import InboxEvent, Message, MessageStatusEvent
    from webhooks.models import WebhookReceipt

    stored = Message.objects.filter(direction="inbound", plivo_message_uuid__in=inbound_uuids)
    stored_count = stored.count()
    repeated = (
        Message.objects.filter(direction="inbound").values("plivo_message_uuid").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    created_events = InboxEvent.objects.filter(type="message.created").count()
    report_rows = MessageStatusEvent.objects.count()
    unapplied = WebhookReceipt.objects.pending().count()
    failing = WebhookReceipt.objects.exclude(last_error="").count()
    unmatched = MessageStatusEvent.objects.filter(message__isnull=True).count()
    finals = dict(
        Message.objects.filter(pk__in=[pk for pk, _ in outbound]).values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    checks = [
        (f"inbound: {stored_count} of {len(inbound_uuids)} distinct messages stored (lost {len(inbound_uuids) - stored_count})",
         stored_count == len(inbound_uuids)),
        (f"inbound: {repeated} MessageUUIDs stored more than once; "
         f"{Message.objects.filter(direction='inbound').count()} inbound rows in total", repeated == 0
         and Message.objects.filter(direction="inbound").count() == len(inbound_uuids)),
        (f"inbound: {created_events} message.created events for {len(inbound_uuids)} messages", created_events == len(inbound_uuids)),
        (f"reports: {report_rows} rows for {distinct_reports} distinct reports, {unmatched} unmatched",
         report_rows == distinct_reports and unmatched == 0),
        (f"reports: final statuses of {len(outbound)} outbound messages {finals}", finals == {"read": len(outbound)}),
        (f"receipts: {unapplied} left unapplied, {failing} failing", unapplied == 0 and failing == 0),
    ]
    return {"checks": checks}


if __name__ == "__main__":
    main()
