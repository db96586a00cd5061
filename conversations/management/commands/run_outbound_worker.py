"""`manage.py run_outbound_worker`: one process draining the outbound queue.

Run as many as you like (each claims different jobs; a message is never sent by two), each with
OUTBOUND_CONCURRENCY sends in flight. SIGTERM or SIGINT finishes the sends in flight, then exits
0; a second signal exits at once (the jobs' leases expire and the sweep of any other worker
recovers them, without a blind resend).
"""

import logging

from django.core.management.base import BaseCommand

from conversations.background import stop_on_signals
from conversations.outbound import OutboundWorker


class Command(BaseCommand):
    help = "Send queued outbound messages to Plivo (any number of these may run)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=0.5,
                            help="Seconds to wait when the queue is empty (default 0.5).")
        parser.add_argument("--sweep-interval", type=float, default=5.0,
                            help="Seconds between recovery sweeps: expired leases, unconfirmed sends, "
                                 "overdue delivery reports (default 5).")
        parser.add_argument("--concurrency", type=int, default=None,
                            help="Sends in flight at once (default OUTBOUND_CONCURRENCY, 16).")
        parser.add_argument("--worker-id", default=None, help="A name for logs and claims (default host:pid).")
        parser.add_argument("--until-idle", action="store_true",
                            help="Exit once nothing is queued or in flight (scripts, benchmarks).")

    def handle(self, *args, interval, sweep_interval, concurrency, worker_id, until_idle, **options):
        logging.getLogger("conversations").setLevel(logging.INFO)
        worker = OutboundWorker(worker_id=worker_id, interval=interval, sweep_interval=sweep_interval,
                                stop_when_idle=until_idle, concurrency=concurrency)
        stop_on_signals(worker, say=self.stderr.write, finishing="the sends in flight")
        self.stdout.write(f"outbound worker {worker.worker_id} running (Ctrl+C to stop)")
        self.stdout.flush()
        worker.run()
