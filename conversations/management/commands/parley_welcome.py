import socket
from urllib.parse import urlencode

from django.conf import settings
from django.core.management.base import BaseCommand

from conversations.management.commands.seed_demo import DEMO_CONVERSATIONS, DEMO_USERS


class Command(BaseCommand):
    help = "Print where to go once `make run` is serving."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host, port, **options):
        browse_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        origin = f"http://{browse_host}:{port}"
        lines = [
            "",
            "Parley is starting at " + origin,
            f"  Agent inbox     {origin}/inbox/",
        ]
        for username, password, _, staff in DEMO_USERS:
            lines.append(f"                    {'admin' if staff else 'agent'} {username:<6} password {password}")
        if settings.PLIVO_SIMULATOR:
            lines.append(f"  Customer phone  {origin}/simulator/   (the local Plivo simulator: no account needed)")
        lines += [
            f"  Admin           {origin}/admin/   (sign in as admin)",
            f"  API docs        {origin}/api/v1/docs/   (token: .venv/bin/python manage.py drf_create_token alice)",
        ]
        if settings.PLIVO_SIMULATOR:
            name, phone, channel = next((n, p, c) for n, p, c, *_ in DEMO_CONVERSATIONS if c == "whatsapp")
            customer = f"{origin}/simulator/?" + urlencode({"phone": phone, "channel": channel, "name": name})
            lines += [
                "",
                "Try it in one minute:",
                f"  1. Open the inbox as alice, and beside it the customer phone as {name}:",
                f"     {customer}",
                "  2. Send a message from the phone: it arrives in the inbox as a signed Plivo webhook.",
                "  3. Reply in the inbox: watch the ticks go sent, delivered, then read while the phone shows the chat.",
                "  Numbers ending in 0000, 1111, 2222, 3333 or 4444 take Plivo's failure paths (listed on the phone page).",
            ]
        else:
            lines += ["", f"Plivo: real account {settings.PLIVO_AUTH_ID or '(not configured)'}; "
                      f"message URL {settings.PUBLIC_BASE_URL}/webhooks/plivo/message/"]
        if _port_in_use(browse_host, int(port)):
            lines += ["", f"Warning: something already listens on {browse_host}:{port}; "
                      "stop it or run `make run PORT=8001`."]
        lines.append("")
        self.stdout.write("\n".join(lines))


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
