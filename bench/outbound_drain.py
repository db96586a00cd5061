"""Benchmark: queued messages drained by worker processes, side by side with the fake API's own capacity.

In one run, against the fake Plivo Message API (served over HTTP from this process, with
`--latency` per request and ±25% jitter, Plivo's account limit of 300 requests per 5 s, and
`--failure-rate` transient failures: 500/502/503/429 at random):

  1. capacity  the fake API alone, without its account limit: as many SDK clients as the
               workers have threads, no database (the ceiling any sender could reach here);
  2. queue     `--messages` SMS queued through `message_send` at bulk priority;
  3. drain     `--workers` `manage.py run_outbound_worker --until-idle` processes send them
               all; every `--probe-every` seconds an agent's reply is queued and timed until its
               request reaches the fake API (it must overtake the bulk backlog).

Then every message is accounted for: each is `sending` (accepted by Plivo; reports are off), its
job `accepted`, and the fake API holds exactly one accepted request for it (matched by the
`ref` in its status URL), however many failures it took.

    createdb -h 127.0.0.1 -U postgres parley_outbound_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley_outbound_bench \\
        .venv/bin/python bench/outbound_drain.py [--latency 0.2] [--messages 2000] [--failure-rate 0.1]

The database is wiped (manage.py flush): its name must contain "bench". Retries wait
OUTBOUND_RETRY_BASE_SECONDS (--retry-base, default 0.5 s here instead of 20 s, so the figure is
the send rate rather than the backoff schedule).
"""

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

from support import (  # bench/support.py, beside this script
    BENCH_PLIVO_AUTH_ID as AUTH_ID,
    BENCH_SMS_NUMBER as SMS_NUMBER,
    PYTHON,
    ROOT,
    django_setup,
    production_env,
    wipeable_database_url,
)

AUTH_TOKEN = secrets.token_urlsafe(24)
SPECIAL_SUFFIXES = {"0000", "1111", "2222", "3333", "4444"}  # the fake's scripted behaviours


def destinations(count: int, start: int = 5000) -> list[str]:
    """Distinct valid US numbers, none of ours (+1415555 01xx) nor the fake's special suffixes."""
    numbers, n = [], start
    while len(numbers) < count:
        area, suffix = 415 + (n // 10000) * 93, f"{n % 10000:04d}"  # 415, 508, 601, ...
        if suffix not in SPECIAL_SUFFIXES:
            numbers.append(f"+1{area}555{suffix}")
        n += 1
    return numbers


def measure_capacity(base_url: str, clients: int, requests_total: int) -> dict:
    """The fake API alone: `clients` threads sending through the SDK (one client each)."""
    import plivo
    import plivo.rest.client
    from plivo import exceptions

    plivo.rest.client.PLIVO_API_BASE_URI = base_url + "/v1/Account"
    numbers = destinations(requests_total, start=90000)
    shares = [numbers[i::clients] for i in range(clients)]
    accepted = Counter()

    def client_thread(index):
        client = plivo.RestClient(AUTH_ID, AUTH_TOKEN, timeout=10)
        for number in shares[index]:
            try:
                client.messages.create(src=SMS_NUMBER, dst=number, text="capacity probe", type_="sms",
                                       url="https://parley-bench.example/webhooks/plivo/status/?ref=0", log="true")
                accepted[index] += 1
            except exceptions.PlivoRestError:
                pass

    threads = [threading.Thread(target=client_thread, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "requests_per_s": requests_total / elapsed, "accepted_per_s": sum(accepted.values()) / elapsed}


def probe_loop(api, stop: threading.Event, every: float, results: list, bulk_left) -> None:
    """Queue an agent's reply every `every` seconds during the drain; time it until the fake
    API accepts it."""
    from django.db import connection

    from conversations.outbound import message_send

    arrived = {}

    def on_accepted(message):  # called by the fake API for every message it accepts
        ref = (message.url or "").rsplit("ref=", 1)[-1]
        if ref in waiting:
            arrived[ref] = time.monotonic()

    waiting = {}
    api.listeners.append(on_accepted)
    numbers = iter(destinations(1000, start=20000))  # area code 601: none of the bulk numbers
    while not stop.wait(every) and bulk_left():
        started = time.monotonic()
        message, _ = message_send(to=next(numbers), channel="sms", kind="text", text="An agent's reply")
        waiting[str(message.pk)] = started
    deadline = time.monotonic() + 30
    while len(arrived) < len(waiting) and time.monotonic() < deadline:
        time.sleep(0.05)
    results.extend(arrived[ref] - waiting[ref] for ref in arrived)
    connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16, help="OUTBOUND_CONCURRENCY of each worker")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per request at the fake API")
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--retry-base", type=float, default=0.5)
    parser.add_argument("--probe-every", type=float, default=3.0, help="seconds between agent replies (0: none)")
    args = parser.parse_args()

    wipeable_database_url()

    from simulator.fake_plivo import FakePlivoAPI, FakePlivoServer

    api = FakePlivoAPI(auth_id=AUTH_ID, auth_token=AUTH_TOKEN, auto_report=False, seed=7, latency=args.latency,
                       rate_limit=None)
    server = FakePlivoServer(api).start()
    env = production_env(PLIVO_AUTH_TOKEN=AUTH_TOKEN, PLIVO_API_BASE_URL=server.base_url,
                         OUTBOUND_RETRY_BASE_SECONDS=str(args.retry_base), OUTBOUND_CONCURRENCY=str(args.concurrency))
    os.environ.update(env)
    load_before = os.getloadavg()

    # 1. The fake API's own capacity (no account limit), with as many clients as the workers have threads.
    threads = args.workers * args.concurrency
    capacity = measure_capacity(server.base_url, threads, min(args.messages, 2000))
    api.reset()
    api.rate_limit = (300, 5.0)
    api.transient_failure_rate = args.failure_rate

    # 2. Queue the messages through the real send path, at bulk priority.
    subprocess.run([str(PYTHON), "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([str(PYTHON), "manage.py", "flush", "--no-input"], cwd=ROOT, env=env, check=True)
    django_setup()
    from django.db.models import Max, Min

    from conversations.models import Message, OutboundJob, SendAttempt
    from conversations.outbound import message_send

    started = time.perf_counter()
    for number in destinations(args.messages):
        message_send(to=number, channel="sms", kind="text", text="Your parcel is on its way.",
                     priority=OutboundJob.Priority.BULK)
    queue_seconds = time.perf_counter() - started

    # 3. Drain with worker processes; agent replies are queued meanwhile.
    logs = [tempfile.TemporaryFile(mode="w+") for _ in range(args.workers)]
    started = time.perf_counter()
    workers = [
        subprocess.Popen([str(PYTHON), "manage.py", "run_outbound_worker", "--until-idle", "--interval", "0.1",
                          "--worker-id", f"bench-{n}"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        for n, log in enumerate(logs)
    ]

    def bulk_left() -> bool:
        return OutboundJob.objects.filter(priority=OutboundJob.Priority.BULK, state__in=["pending", "in_flight"]).exists()

    probes, stop_probes = [], threading.Event()
    prober = threading.Thread(target=probe_loop, args=(api, stop_probes, args.probe_every, probes, bulk_left), daemon=True)
    if args.probe_every:
        prober.start()

    def running(worker) -> bool:  # without reaping it: os.wait4 below wants its resource usage
        return os.waitid(os.P_PID, worker.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None

    while args.probe_every and bulk_left() and all(running(w) for w in workers):
        time.sleep(0.5)
    stop_probes.set()
    usage = {}
    for n, worker in enumerate(workers):
        _, status, rusage = os.wait4(worker.pid, 0)
        worker.returncode = os.waitstatus_to_exitcode(status)
        usage[n] = rusage
        if worker.returncode != 0:
            logs[n].seek(0)
            sys.exit(f"worker exited with {worker.returncode}:\n{logs[n].read()[-3000:]}")
    if args.probe_every:
        prober.join(40)
    wall_seconds = time.perf_counter() - started
    load_after = os.getloadavg()
    window = SendAttempt.objects.filter(message__outbound_job__priority=OutboundJob.Priority.BULK).aggregate(
        first=Min("started_at"), last=Max("finished_at"))
    drain_seconds = (window["last"] - window["first"]).total_seconds()

    # Account for every message.
    statuses = Counter(Message.objects.values_list("status", flat=True))
    jobs = Counter(OutboundJob.objects.values_list("state", flat=True))
    refs = Counter(m.body["url"].rsplit("ref=", 1)[1] for m in api.accepted)
    sends = api.sends()
    answered = Counter(r.status for r in sends)
    total = args.messages + len(probes)
    per_worker = Counter(OutboundJob.objects.values_list("claimed_by", flat=True))
    ok = (statuses == Counter({"sending": total}) and jobs == Counter({"accepted": total})
          and len(refs) == total and set(refs.values()) == {1})
    server.stop()

    print(f"\nOutbound drain: {args.messages} SMS (bulk), {args.workers} worker processes x {args.concurrency} threads, "
          f"PostgreSQL{' + Redis' if os.environ.get('REDIS_URL') else ''}; fake Plivo {args.latency * 1000:.0f} ms ±25% "
          f"per request, limit 300 requests / 5 s, {args.failure_rate:.0%} transient failures, retry base {args.retry_base} s")
    print(f"  load average before {load_before[0]:.1f}, after {load_after[0]:.1f} (1 min) on {os.cpu_count()} CPUs")
    print(f"  {'':<38}{'msg/s':>8}{'seconds':>9}")
    print(f"  {f'fake API alone ({threads} SDK clients, no limit)':<38}{capacity['accepted_per_s']:>8.1f}{capacity['seconds']:>9.1f}")
    print(f"  {'workers: drain':<38}{args.messages / drain_seconds:>8.1f}{drain_seconds:>9.1f}   (first request to last outcome)")
    print(f"  {'workers: wall clock':<38}{args.messages / wall_seconds:>8.1f}{wall_seconds:>9.1f}   (incl. start-up and exit)")
    print(f"  {'queueing (message_send)':<38}{args.messages / queue_seconds:>8.1f}{queue_seconds:>9.1f}")
    for n, rusage in usage.items():
        cpu = rusage.ru_utime + rusage.ru_stime
        print(f"  worker {n}: {per_worker.get(f'bench-{n}', 0)} sends, CPU {cpu:.1f} s "
              f"({cpu * 1000 / max(1, per_worker.get(f'bench-{n}', 0)):.1f} ms per send incl. start-up), "
              f"peak memory {rusage.ru_maxrss / 1024:.0f} MB")
    print(f"  requests to Plivo: {len(sends)}, answered {dict(sorted(answered.items()))}; "
          f"429: {answered.get(429, 0) / max(1, len(sends)):.2%} of requests")
    print(f"  send attempts recorded: {SendAttempt.objects.count()}")
    if probes:
        probes.sort()
        print(f"  agent replies during the drain: {len(probes)}, queued -> at Plivo: median {probes[len(probes) // 2]:.2f} s, "
              f"max {probes[-1]:.2f} s")
    print(f"  messages: {dict(statuses)}, jobs: {dict(jobs)}")
    print(f"  accepted Plivo requests per message: {dict(Counter(refs.values()))} over {len(refs)} messages")
    print("  RESULT:", "OK - every message sent once" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
