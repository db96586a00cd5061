"""Benchmark: a WhatsApp template campaign to 10,000 recipients, sent by worker processes.

Against the fake Plivo Message API (served over HTTP from this process, `--latency` per request
±25%, Plivo's account limit of 300 requests per 5 s):

  1. a campaign of `--recipients` numbers is created and filled through the services (as the API
     does), `--opted-out` of them opt out: half after being added (before the start), half
     mid-campaign (among the last recipients, before their turn);
  2. it is started and `--workers` `manage.py run_outbound_worker` processes send it (their
     campaign dispatcher chore queues the recipients in batches through the send path's
     `messages_queue_bulk` at bulk priority);
  3. every `--probe-every` seconds an agent's reply is queued and timed until its request
     reaches the fake API (it must overtake the campaign).

Figures: the achieved campaign rate against the rate it is allowed (the campaign's own, within
the account's limit), recipients sent twice, opted-out recipients sent, agent reply latency,
and each worker's CPU (the rate is CPU-bound on a small machine: divide the workers' CPU by the
recipients sent for the CPU per recipient).
Quiet hours are off (CAMPAIGN_QUIET_HOURS=""), so the figure does not depend on the time of day.

    createdb -h 127.0.0.1 -U postgres parley_campaign_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley_campaign_bench \\
        .venv/bin/python bench/campaign.py [--recipients 10000] [--latency 0.2] [--workers 2]

The database is wiped (manage.py flush): its name must contain "bench".
"""

import argparse
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

from support import (  # bench/support.py, beside this script
    BENCH_PLIVO_AUTH_ID as AUTH_ID,
    PYTHON,
    ROOT,
    django_setup,
    percentile,
    production_env,
    wipeable_database_url,
)
from outbound_drain import destinations, probe_loop  # beside this script

AUTH_TOKEN = secrets.token_urlsafe(24)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--opted-out", type=float, default=0.02, help="share of recipients who opt out")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16, help="OUTBOUND_CONCURRENCY of each worker")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per request at the fake API")
    parser.add_argument("--rate", type=float, default=None, help="the campaign's rate_per_second (default: as allowed)")
    parser.add_argument("--probe-every", type=float, default=3.0, help="seconds between agent replies")
    parser.add_argument("--max-seconds", type=float, default=540.0,
                        help="stop waiting after this long and report what was sent by then")
    args = parser.parse_args()

    wipeable_database_url()
    from simulator.fake_plivo import FakePlivoAPI, FakePlivoServer

    api = FakePlivoAPI(auth_id=AUTH_ID, auth_token=AUTH_TOKEN, auto_report=False, seed=7, latency=args.latency,
                       rate_limit=(300, 5.0))
    server = FakePlivoServer(api).start()
    env = production_env(PLIVO_AUTH_TOKEN=AUTH_TOKEN, PLIVO_API_BASE_URL=server.base_url, CAMPAIGN_QUIET_HOURS="",
                         OUTBOUND_CONCURRENCY=str(args.concurrency), OUTBOUND_RETRY_BASE_SECONDS="0.5")
    os.environ.update(env)
    subprocess.run([str(PYTHON), "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([str(PYTHON), "manage.py", "flush", "--no-input"], cwd=ROOT, env=env, check=True)
    django_setup()
    from django.contrib.auth import get_user_model
    from django.db.models import Max, Min

    from conversations.campaign_models import CampaignRecipient
    from conversations.campaigns import lifecycle, recipients
    from conversations.models import Contact, Message, MessageTemplate, SendAttempt
    from conversations.services.contacts import contact_opt_out

    # 1. The campaign, its recipients, and who opts out when.
    MessageTemplate.objects.create(name="bench_offer", language="en_US", category="MARKETING", status="APPROVED",
                                   body="Hi {{1}}, your code {{2}} saves 20% this week.")
    manager = get_user_model().objects.create(username="bench-manager", is_staff=True)
    campaign = lifecycle.campaign_create(name="Bench", channel="whatsapp", created_by=manager,
                                         template={"name": "bench_offer", "language": "en_US"}, rate_per_second=args.rate)
    numbers = destinations(args.recipients)
    started = time.perf_counter()
    recipients.recipients_add(campaign=campaign, rows=[(number, [f"Customer {n}", f"C{n:05d}"]) for n, number in enumerate(numbers)])
    add_seconds = time.perf_counter() - started
    opting_out = random.Random(3).sample(range(args.recipients), int(args.recipients * args.opted_out))
    early = [numbers[n] for n in opting_out[: len(opting_out) // 2]]
    late = [numbers[n] for n in sorted(random.Random(4).sample(range(args.recipients * 2 // 3, args.recipients),
                                                                 len(opting_out) - len(early)))]
    for number in early:
        contact_opt_out(contact=Contact.objects.create(phone=number), channel="whatsapp", reason="STOP")

    # 2. Start it; the workers send it.
    lifecycle.campaign_start(campaign=campaign, by=manager)
    allowed = lifecycle.campaign_rate(campaign)
    load_before = os.getloadavg()
    logs = [tempfile.TemporaryFile(mode="w+") for _ in range(args.workers)]
    wall_started = time.perf_counter()
    workers = [subprocess.Popen([str(PYTHON), "manage.py", "run_outbound_worker", "--interval", "0.1",
                                 "--worker-id", f"bench-{n}"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
               for n, log in enumerate(logs)]
    probes, stop_probes = [], threading.Event()
    prober = threading.Thread(target=probe_loop, args=(api, stop_probes, args.probe_every, probes, lambda: True), daemon=True)
    prober.start()
    late_opted_out_at = None
    while True:
        campaign.refresh_from_db()
        if campaign.status != "sending" or any(w.poll() is not None for w in workers):
            break
        if time.perf_counter() - wall_started > args.max_seconds:
            print(f"  (stopped waiting after {args.max_seconds:.0f} s: the figures are for what was sent by then)")
            break
        if late_opted_out_at is None and campaign.recipients.filter(status="queued").count() >= args.recipients // 3:
            for number in late:
                contact_opt_out(contact=Contact.objects.get_or_create(phone=number)[0], channel="whatsapp", reason="STOP")
            late_opted_out_at = time.perf_counter() - wall_started
        time.sleep(0.5)
    wall_seconds = time.perf_counter() - wall_started
    stop_probes.set()
    prober.join(40)
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    usage = {}
    for n, worker in enumerate(workers):
        _, status, usage[n] = os.wait4(worker.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            logs[n].seek(0)
            print(f"worker {n} exited with {os.waitstatus_to_exitcode(status)}:\n{logs[n].read()[-3000:]}")
    load_after = os.getloadavg()

    # 3. Account for every recipient.
    campaign_messages = Message.objects.filter(campaign_recipient__campaign=campaign)
    window = SendAttempt.objects.filter(message__in=campaign_messages).aggregate(first=Min("started_at"), last=Max("finished_at"))
    send_seconds = (window["last"] - window["first"]).total_seconds()
    accepted_per_number = Counter(m.dst for m in api.accepted)
    campaign_numbers = set(numbers)
    sent_numbers = {n for n in accepted_per_number if n in campaign_numbers}
    sent_twice = sum(1 for n in sent_numbers if accepted_per_number[n] > 1)
    opted_out_sent_early = len(sent_numbers & set(early))
    # A late opt-out counts as "sent" only if the request reached Plivo after the opt-out.
    late_contacts = {c.phone: c.whatsapp_opted_out_at for c in Contact.objects.filter(phone__in=late)}
    late_sent_after = sum(1 for message in campaign_messages.filter(conversation__contact__phone__in=late, plivo_message_uuid__isnull=False)
                          .select_related("conversation__contact")
                          if SendAttempt.objects.filter(message=message, started_at__gt=late_contacts[message.conversation.contact.phone]).exists())
    results = Counter(CampaignRecipient.objects.filter(campaign=campaign).values_list("status", flat=True))
    skip_reasons = Counter(CampaignRecipient.objects.filter(campaign=campaign, status="skipped").values_list("skip_reason", flat=True))
    refused = campaign_messages.filter(status="failed").count()
    achieved = len(sent_numbers) / send_seconds
    server.stop()

    probes.sort()
    print(f"\nCampaign: {args.recipients:,} recipients (WhatsApp template), {len(opting_out)} opted out "
          f"({len(early)} before the start, {len(late)} mid-campaign at {late_opted_out_at or 0:.0f} s); "
          f"{args.workers} worker processes x {args.concurrency} threads, PostgreSQL; fake Plivo "
          f"{args.latency * 1000:.0f} ms ±25% per request, limit 300 requests / 5 s")
    print(f"  load average before {load_before[0]:.1f}, after {load_after[0]:.1f} (1 min) on {os.cpu_count()} CPUs")
    print(f"  recipients added in {add_seconds:.1f} s ({args.recipients / add_seconds:,.0f}/s)")
    print(f"  campaign: {campaign.status} in {wall_seconds:.1f} s wall clock; sent {len(sent_numbers):,} in {send_seconds:.1f} s "
          f"(first request to last outcome)")
    print(f"  rate: achieved {achieved:.1f} msg/s, allowed {allowed:.1f} msg/s (account 300/5s = 60/s less 5% headroom"
          f"{', campaign ' + str(args.rate) if args.rate else ''}): {achieved / allowed:.2f}x allowed, {achieved / 60:.2f}x the account limit")
    print(f"  recipients: {dict(results)}, skipped: {dict(skip_reasons)}, queued but refused at send time: {refused}")
    print(f"  sent twice: {sent_twice}; opted-out sent: {opted_out_sent_early} (early) + {late_sent_after} (late, after the opt-out)")
    if probes:
        print(f"  agent replies mid-campaign: {len(probes)}, queued -> at Plivo: median {percentile(probes, 0.5):.2f} s, "
              f"p95 {percentile(probes, 0.95):.2f} s, max {probes[-1]:.2f} s")
    for n, rusage in usage.items():
        print(f"  worker {n}: CPU {rusage.ru_utime + rusage.ru_stime:.1f} s, peak memory {rusage.ru_maxrss / 1024:.0f} MB")
    worker_cpu = sum(rusage.ru_utime + rusage.ru_stime for rusage in usage.values())
    print(f"  worker CPU per recipient sent: {worker_cpu / max(1, len(sent_numbers)) * 1000:.1f} ms (start-up included)")
    ok = (campaign.status == "completed" and sent_twice == 0 and opted_out_sent_early == 0 and late_sent_after == 0
          and achieved >= 0.9 * allowed and probes and probes[-1] <= 2.0)
    print("  RESULT:", "OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
