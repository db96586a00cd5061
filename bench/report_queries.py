"""Server time of the Reports page's reads on a large database: the summary and the per-day chart.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley_bench .venv/bin/python bench/seed_large.py \\
        --conversations 400000 --messages 4000000 --reset
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley_bench .venv/bin/python bench/report_queries.py

The summary goes through the whole stack in-process (middleware, auth, DRF, the selector, JSON),
signed in as a bench agent, as `inbox_queries.py` measures; the per-day chart is its selector
(`report_by_day`) plus JSON. Ranges end today in the team's time zone: 90 days, and 7 or 30 days,
unfiltered or by channel, agent, label, with durations in business hours or not. Targets (issue
16): a 90-day summary p95 under 500 ms, the per-day chart p95 under 300 ms. Prints p50 / p95 / max
with wall and CPU time (this thread plus its PostgreSQL backend, parallel query off) and exits
non-zero when a target is missed.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta

from inbox_queries import backend_cpu_ns, bench_client, timed  # bench/, beside this script (sets Django up)
from support import percentile

from django.contrib.auth import get_user_model  # noqa: E402
from django.utils import timezone  # noqa: E402

from conversations.models import Label, Message, ReportDay, ReportEpisode, ReportSettings  # noqa: E402
from conversations.reports.hours import zone_check  # noqa: E402
from conversations.reports.summary import ReportFilter, report_by_day  # noqa: E402

TARGETS_MS = {"summary (90 days)": 500, "per-day chart": 300}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="requests per scenario")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    client = bench_client("report_queries")
    rng = random.Random(args.seed)
    today = timezone.now().astimezone(zone_check(ReportSettings.load().time_zone)).date()
    agents = list(get_user_model().objects.filter(username__startswith="bench").values_list("pk", flat=True))
    labels = list(Label.objects.values_list("name", flat=True))
    print(f"{Message.objects.count()} messages, {ReportEpisode.objects.count()} episodes, "
          f"{ReportDay.objects.count()} day rows; {args.requests} requests per scenario\n")

    def filters(days):
        params = {"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}
        pick = rng.random()
        if pick < 0.2:
            params["channel"] = rng.choice(["whatsapp", "sms"])
        elif pick < 0.4:
            params["agent"] = str(rng.choice(agents))
        elif pick < 0.6 and labels:
            params["label"] = rng.choice(labels)
        if rng.random() < 0.3:
            params["business_hours"] = "true"
        return params

    results, cpu = {}, []

    def run(name, make_request):
        cpu.clear()
        samples = [make_request() for _ in range(args.requests)]
        results[name] = (samples, list(cpu))
        print(f"{name:<44} wall p50 {statistics.median(samples):6.1f}  p95 {percentile(samples, 0.95):6.1f}"
              f"  max {max(samples):6.1f} ms | cpu p50 {statistics.median(cpu):6.1f}  p95 {percentile(cpu, 0.95):6.1f} ms",
              flush=True)

    def summary(days):
        return lambda: timed(client, "/api/v1/reports/summary/", filters(days), cpu_samples=cpu)[0]

    def per_day_chart():
        params = filters(90)
        label_id = Label.objects.filter(name=params["label"]).values_list("pk", flat=True).first() if "label" in params else None
        report = ReportFilter(date_from=today - timedelta(days=89), date_to=today, channel=params.get("channel"),
                              agent_id=int(params["agent"]) if "agent" in params else None, label_id=label_id)
        cpu_before, backend_before = time.thread_time(), backend_cpu_ns()
        started = time.perf_counter()
        json.dumps(report_by_day(report))
        elapsed = (time.perf_counter() - started) * 1000
        cpu.append((time.thread_time() - cpu_before) * 1000 + (backend_cpu_ns() - backend_before) / 1e6)
        return elapsed

    for _ in range(10):  # warm-up: connection, caches, query plans
        summary(90)()
    run("summary (90 days)", summary(90))
    run("summary (30 days)", summary(30))
    run("summary (7 days)", summary(7))
    run("per-day chart", per_day_chart)

    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} (2 cores)")
    failed = False
    for name, target in TARGETS_MS.items():
        samples, cpu_samples = results[name]
        p95 = percentile(samples, 0.95)
        failed |= p95 >= target
        print(f"{name:<20} wall p95 {p95:6.1f} ms (target < {target} ms): {'OK' if p95 < target else 'MISSED'};"
              f"  cpu p95 {percentile(cpu_samples, 0.95):6.1f} ms")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
