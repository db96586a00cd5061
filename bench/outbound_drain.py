"""Benchmark: 2,000 queued messages drained by 2 worker processes, side by side with the fake API.

In one run, against the fake Plivo Message API (served over HTTP from this process, with 10%
transient failures: 500/502/503/429 chosen at random):

  1. capacity  the fake API alone: 2 processes sending through the plivo SDK, no database
               (the ceiling any sender could reach on this machine);
  2. queue     2,000 SMS queued through `message_send` (message + job + task, one transaction each);
  3. drain     2 `manage.py run_outbound_worker --until-idle` processes send them all.

Then every message is accounted for: each is `sending` (accepted by Plivo; reports are off), its
job `accepted`, and the fake API holds exactly one accepted request for it (matched by the
`ref` in its status URL), however many transient failures it took.

    createdb -h 127.0.0.1 -U postgres parley_outbound_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley_outbound_bench \\
        .venv/bin/python bench/outbound_drain.py [--messages 2000] [--workers 2] [--failure-rate 0.1]

The database is wiped (manage.py flush): its name must contain "bench". Retries wait
OUTBOUND_RETRY_BASE_SECONDS (--retry-base, default 0.5 s here instead of 20 s, so the figure is
the send rate rather than the backoff schedule).
"""

import argparse
import multiprocessing
import os
import resource
import secrets
import subprocess
import sys
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


def destinations(count: int) -> list[str]:
    """Distinct valid US numbers, none of ours (+1415555 01xx) nor the fake's special suffixes."""
    numbers, n = [], 5000
    while len(numbers) < count:
        area, suffix = 415 + (n // 10000) * 93, f"{n % 10000:04d}"  # 415, 508, 601, ...
        if suffix not in SPECIAL_SUFFIXES:
            numbers.append(f"+1{area}555{suffix}")
        n += 1
    return numbers


def _capacity_client(base_url: str, auth_token: str, numbers: list[str], results) -> None:
    import plivo
    import plivo.rest.client
    from plivo import exceptions

    plivo.rest.client.PLIVO_API_BASE_URI = base_url + "/v1/Account"
    client = plivo.RestClient(AUTH_ID, auth_token, timeout=5)  # a spawned child has its own AUTH_TOKEN
    accepted = failed = 0
    for number in numbers:
        try:
            client.messages.create(src=SMS_NUMBER, dst=number, text="capacity probe", type_="sms",
                                   url="https://parley-bench.example/webhooks/plivo/status/?ref=0", log="true")
            accepted += 1
        except exceptions.PlivoRestError:
            failed += 1
    results.put((accepted, failed))


def measure_capacity(base_url: str, clients: int, requests_total: int) -> dict:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    numbers = destinations(requests_total)
    share = [numbers[i::clients] for i in range(clients)]
    processes = [context.Process(target=_capacity_client, args=(base_url, AUTH_TOKEN, part, results)) for part in share]
    started = time.perf_counter()
    for process in processes:
        process.start()
    totals = [results.get(timeout=600) for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    accepted = sum(a for a, _ in totals)
    return {"requests": requests_total, "seconds": elapsed, "requests_per_s": requests_total / elapsed,
            "accepted_per_s": accepted / elapsed}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--failure-rate", type=float, default=0.1)
    parser.add_argument("--retry-base", type=float, default=0.5)
    args = parser.parse_args()

    wipeable_database_url()

    from simulator.fake_plivo import FakePlivoAPI, FakePlivoServer

    api = FakePlivoAPI(auth_id=AUTH_ID, auth_token=AUTH_TOKEN, auto_report=False, seed=7)
    server = FakePlivoServer(api).start()
    env = production_env(PLIVO_AUTH_TOKEN=AUTH_TOKEN, PLIVO_API_BASE_URL=server.base_url,
                         OUTBOUND_RETRY_BASE_SECONDS=str(args.retry_base))
    os.environ.update(env)

    # 1. The fake API's own capacity, with the same number of client processes and failure rate.
    api.transient_failure_rate = args.failure_rate
    capacity = measure_capacity(server.base_url, args.workers, args.messages)
    api.reset()
    api.transient_failure_rate = args.failure_rate

    # 2. Queue the messages through the real send path.
    subprocess.run([str(PYTHON), "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([str(PYTHON), "manage.py", "flush", "--no-input"], cwd=ROOT, env=env, check=True)
    django_setup()
    from django.db.models import Max, Min

    from conversations.models import Message, OutboundJob, SendAttempt
    from conversations.outbound import message_send

    started = time.perf_counter()
    for number in destinations(args.messages):
        message_send(to=number, channel="sms", kind="text", text="Your parcel is on its way.")
    queue_seconds = time.perf_counter() - started

    # 3. Drain with worker processes.
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    workers = [
        subprocess.Popen([str(PYTHON), "manage.py", "run_outbound_worker", "--until-idle", "--interval", "0.05",
                          "--worker-id", f"bench-{n}"], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for n in range(args.workers)
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=1800)
        if worker.returncode != 0:
            sys.exit(f"worker exited with {worker.returncode}:\n{errors[-3000:]}")
    wall_seconds = time.perf_counter() - started
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = (children_after.ru_utime - children_before.ru_utime) + (children_after.ru_stime - children_before.ru_stime)
    load = os.getloadavg()[0]
    window = SendAttempt.objects.aggregate(first=Min("started_at"), last=Max("finished_at"))
    drain_seconds = (window["last"] - window["first"]).total_seconds()

    # Account for every message.
    statuses = Counter(Message.objects.values_list("status", flat=True))
    jobs = Counter(OutboundJob.objects.values_list("state", flat=True))
    refs = Counter(m.body["url"].rsplit("ref=", 1)[1] for m in api.accepted)
    sends = api.sends()
    failures = Counter(r.status for r in sends if r.status != 202)
    per_worker = Counter(OutboundJob.objects.values_list("claimed_by", flat=True))
    ok = (statuses == Counter({"sending": args.messages}) and jobs == Counter({"accepted": args.messages})
          and len(refs) == args.messages and set(refs.values()) == {1})
    server.stop()

    print(f"\nOutbound drain: {args.messages} SMS, {args.workers} worker processes, PostgreSQL, "
          f"fake Plivo with {args.failure_rate:.0%} transient failures, retry base {args.retry_base} s")
    print(f"  {'':<34}{'msg/s':>10}{'seconds':>10}")
    print(f"  {'fake API alone (SDK, no DB)':<34}{capacity['accepted_per_s']:>10.0f}{capacity['seconds']:>10.1f}"
          f"   ({capacity['requests_per_s']:.0f} requests/s incl. failures)")
    print(f"  {'Parley workers: drain':<34}{args.messages / drain_seconds:>10.0f}{drain_seconds:>10.1f}"
          f"   (first request to last outcome)")
    print(f"  {'Parley workers: wall clock':<34}{args.messages / wall_seconds:>10.0f}{wall_seconds:>10.1f}"
          f"   (incl. process start-up and exit)")
    print(f"  {'queueing (message_send)':<34}{args.messages / queue_seconds:>10.0f}{queue_seconds:>10.1f}")
    print(f"  worker CPU: {worker_cpu * 1000 / args.messages:.0f} ms per message (user+sys, both processes, incl. "
          f"start-up); load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"  requests to Plivo: {len(sends)} ({sum(failures.values())} transient failures: "
          f"{dict(sorted(failures.items()))}), send attempts recorded: {SendAttempt.objects.count()}")
    print(f"  messages: {dict(statuses)}, jobs: {dict(jobs)}, per worker: {dict(sorted(per_worker.items()))}")
    print(f"  accepted Plivo requests per message: {dict(Counter(refs.values()))} over {len(refs)} messages")
    print("  RESULT:", "OK - every message sent once" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
