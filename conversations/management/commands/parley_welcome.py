from django.conf import settings
from django.core.management.base import BaseCommand

from conversations.management.commands.seed_demo import DEMO_USERS


class Command(BaseCommand):
    help = "Print where to go once `make run` is serving."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host, port, **options):
        origin = f"http://{host}:{port}"
        lines = [
            "",
            "Parley is starting at " + origin,
            f"  Agent inbox     {origin}/inbox/",
        ]
        for username, password, _, staff in DEMO_USERS:
            lines.append(f"                  {'admin' if staff else 'agent'} {username} / {password}")
        if settings.PLIVO_SIMULATOR:
            lines.append(f"  Customer phone  {origin}/simulator/   (the local Plivo simulator)")
        lines += [
            f"  Admin           {origin}/admin/",
            f"  API docs        {origin}/api/v1/docs/",
            "",
        ]
        self.stdout.write("\n".join(lines))
