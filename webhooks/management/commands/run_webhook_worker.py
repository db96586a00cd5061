"""`manage.py run_webhook_worker`: one process applying Plivo's committed callbacks to the inbox.

Run as many as you like (each claims different receipts). SIGTERM or SIGINT finishes the
batch in hand, then exits 0; a batch cut off by a second signal rolls back and is applied by
the next worker.
"""

import logging

from django.core.management.base import BaseCommand

from conversations.background import stop_on_signals
from webhooks.worker import WebhookWorker


class Command(BaseCommand):
    help = "Apply received Plivo webhooks (messages, delivery reports) to the inbox (any number of these may run)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0,
                            help="Seconds between polls when no notification arrives (default 1).")
        parser.add_argument("--batch-size", type=int, default=50, help="Receipts applied per transaction (default 50).")
        parser.add_argument("--until-idle", action="store_true",
                            help="Exit once no receipt is due (scripts, benchmarks); a failing one waiting out its backoff is left.")

    def handle(self, *args, interval, batch_size, until_idle, **options):
        logging.getLogger("webhooks").setLevel(logging.INFO)
        worker = WebhookWorker(interval=interval, batch_size=batch_size, stop_when_idle=until_idle)
        stop_on_signals(worker, say=self.stderr.write, finishing="the current batch")
        self.stdout.write("webhook worker running (Ctrl+C to stop)")
        worker.run()
