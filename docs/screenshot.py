"""Redraw the README's picture, docs/inbox.png: a busy inbox in real Chromium.

    make screenshot                  (or: .venv/bin/python docs/screenshot.py [--out PATH])

Builds a throwaway SQLite database holding the picture's conversations (every kind of message
and tick in one thread), serves Parley with daphne as the browser tests do, signs an agent in
and photographs that thread with the contact panel open.
"""

import argparse
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "messaging_site.settings")
os.environ["DEBUG"] = "true"
os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='parley-screenshot-')}/screenshot.sqlite3"

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from conversations.models import Conversation  # noqa: E402
from conversations.permissions import AGENTS_GROUP  # noqa: E402
from conversations.tests.browser import chromium_launch, session_cookie  # noqa: E402
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageFactory, UserFactory  # noqa: E402
from conversations.tests.live_server import LiveServer  # noqa: E402


def agent(username: str, first_name: str):
    user = UserFactory(username=username, first_name=first_name)
    user.groups.add(Group.objects.get_or_create(name=AGENTS_GROUP)[0])
    return user


def busy_inbox(me, colleague) -> Conversation:
    """Four waiting customers and Dana's thread (assigned to `me`), which the picture shows."""
    now = timezone.now()
    for index, (name, text, hours, channel) in enumerate(
        [
            ("Maria Garcia", "Hi! My order hasn't arrived yet, can you check?", 0.1, "whatsapp"),
            ("Priya Patel", "Can I change my delivery address?", 0.7, "sms"),
            ("Mateo Fernandez", "Can someone call me back?", 22.5, "whatsapp"),
            ("Emma Johnson", "Do you ship to Canada?", 30, "whatsapp"),
        ]
    ):
        moment = now - timedelta(hours=hours)
        c = ConversationFactory(
            contact=ContactFactory(display_name=name, phone=f"+1415555090{index}"), channel=channel,
            last_inbound_at=moment, last_message_at=moment, unread_count=index % 2 + 1,
            assignee=colleague if index == 3 else None,
        )
        Conversation.objects.filter(pk=c.pk).update(last_message=MessageFactory(conversation=c, text=text, created_at=moment))
    contact = ContactFactory(display_name="Dana Whitfield", phone="+14155550123")
    start = now - timedelta(minutes=40)
    conversation = ConversationFactory(contact=contact, channel="whatsapp", assignee=me, last_inbound_at=start + timedelta(minutes=30),
                                       last_message_at=now - timedelta(minutes=1))

    def at(minutes):
        return start + timedelta(minutes=minutes)

    first = MessageFactory(conversation=conversation, text="Hi! My parcel arrived damaged 😕", created_at=at(0))
    MessageFactory(conversation=conversation, kind="media", text="Here's a photo of the box", created_at=at(1),
                   media=[{"url": "/static/img/parley.svg", "content_type": "image/svg+xml"}])
    MessageFactory(conversation=conversation, direction="outbound", sent_by=me, status="read", reply_to=first, created_at=at(3),
                   text="Sorry to hear that, Dana! Would you like a replacement or a refund?")
    MessageFactory(conversation=conversation, direction="inbound", kind="button_reply", text="Replacement", created_at=at(5),
                   structured={"button": {"text": "Replacement", "payload": "REPLACE"}})
    MessageFactory(conversation=conversation, direction="outbound", sent_by=me, status="delivered", kind="template", created_at=at(8),
                   text="Hi Dana, your order #1042 has shipped.", structured={"template": {"name": "order_update"}})
    MessageFactory(conversation=conversation, kind="location", text="", created_at=at(30),
                   structured={"location": {"latitude": "37.7793", "longitude": "-122.4193", "name": "Home",
                                            "address": "1 Dr Carlton B Goodlett Pl"}})
    MessageFactory(conversation=conversation, direction="outbound", sent_by=colleague, status="sent", created_at=at(36),
                   text="Thanks! A courier will pick up the damaged one tomorrow.")
    last = MessageFactory(conversation=conversation, direction="outbound", sent_by=me, status="undelivered", error_code="80",
                          created_at=at(39), error_message="The phone was unreachable. Try again later.",
                          text="Does 9–12 work for you?")
    Conversation.objects.filter(pk=conversation.pk).update(last_message=last, last_message_at=last.created_at)
    return conversation


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "inbox.png")
    args = parser.parse_args()

    from playwright.sync_api import expect, sync_playwright

    call_command("migrate", verbosity=0)
    alice = agent("alice", "Alice")
    conversation = busy_inbox(alice, agent("bob", "Bob"))
    log = Path(tempfile.mkdtemp(prefix="parley-screenshot-log-")) / "daphne.log"
    server = LiveServer(database_url=os.environ["DATABASE_URL"], log_path=log)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls next to Playwright's event loop
    errors = []
    try:
        with sync_playwright() as playwright:
            browser = chromium_launch(playwright)
            context = browser.new_context(viewport={"width": 1360, "height": 820})
            context.add_cookies([session_cookie(alice, server.url)])
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{server.url}/inbox/{conversation.pk}/")
            expect(page.locator("#message-list .msg")).to_have_count(8)
            expect(page.locator("#connection")).to_have_text("Live")
            page.click("#toggle-contact")
            page.wait_for_timeout(200)  # the panel's slide-in
            page.screenshot(path=str(args.out))
            browser.close()
    finally:
        server.stop()
    if errors:
        sys.exit(f"the inbox raised script errors, picture not trusted: {errors}")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
