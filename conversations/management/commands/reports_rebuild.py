"""Recount the report rollups from the raw rows (after a restore, or to check them)."""

import time

from django.core.management.base import BaseCommand

from conversations.reports.rollups import report_rebuild


class Command(BaseCommand):
    help = "Recreate the report rollups (episodes and day counts) from messages and consent records."

    def handle(self, *args, **options):
        started = time.monotonic()
        written = report_rebuild(say=self.stdout.write)
        self.stdout.write(
            f"Rebuilt {written['episodes']} episodes and {written['rows']} day rows over {written['days']} days "
            f"in {time.monotonic() - started:.1f} s."
        )
