"""Redraw the README's pictures in real Chromium: docs/inbox.png (a busy inbox), docs/reports.png
(four weeks of a small team's traffic) and docs/campaigns.png (a campaign halfway through).

    make screenshot      (or: .venv/bin/python docs/screenshot.py [--dir DIR] [--only inbox|reports|campaigns])

Builds a throwaway SQLite database holding made-up, demo-like data (every kind of message and
tick in one thread; a month of conversations through the same services the webhooks use; a
campaign's recipients at every result), serves Parley with daphne as the browser tests do, signs
users in and photographs each page.
"""

import argparse
import os
import random
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

from conversations.campaign_models import Campaign, CampaignRecipient  # noqa: E402
from conversations.campaigns import lifecycle, recipients  # noqa: E402
from conversations.models import Conversation, Label  # noqa: E402
from conversations.permissions import AGENTS_GROUP, CAMPAIGN_MANAGERS_GROUP  # noqa: E402
from conversations.reports.rollups import report_refresh  # noqa: E402
from conversations.services.contacts import contact_opt_out  # noqa: E402
from conversations.services.labels import conversation_labels_set  # noqa: E402
from conversations.tests.browser import chromium_launch, session_cookie  # noqa: E402
from conversations.tests.factories import (  # noqa: E402
    ContactFactory,
    ConversationFactory,
    MessageFactory,
    MessageTemplateFactory,
    UserFactory,
)
from conversations.tests.live_server import LiveServer  # noqa: E402
from conversations.tests.reports_support import (  # noqa: E402
    agent_replies,
    conversation_of,
    customer_writes,
    plivo_reports,
    status_set,
    team_settings,
)

PICTURES = ("inbox", "reports", "campaigns")
FIRST_NAMES = ["Olivia", "Liam", "Ava", "Noah", "Mia", "Lucas", "Zoe", "Ethan", "Aria", "Leo", "Nora", "Omar", "Ines", "Kai",
               "Sofia", "Yuki", "Ravi", "Lena", "Tariq", "Elena"]


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


def month_of_traffic(agents) -> None:
    """Four weeks of a small team: customers writing mostly in office hours, replies after a few
    minutes to a few hours, delivery and read reports with a few failures, resolutions, labels
    and the odd opt-out, all through the services the webhooks and the API use."""
    team_settings("America/New_York")
    rng = random.Random(15)
    now = timezone.now().replace(microsecond=0)
    labels = ["shipping", "returns", "billing", "vip"]
    for name, colour in zip(labels, ["#2563eb", "#d97706", "#059669", "#7c3aed"]):
        Label.objects.create(name=name, colour=colour)
    failures = ["30", "200", "80", "40"]
    for index in range(150):
        phone = f"+1415556{index:04d}"
        channel = "whatsapp" if rng.random() < 0.7 else "sms"
        day = now - timedelta(days=rng.randint(0, 27))
        wrote = day.replace(hour=rng.choice([13, 14, 14, 15, 15, 16, 17, 18, 19, 20, 21, 22, 1]), minute=rng.randint(0, 59))
        if wrote > now - timedelta(hours=3):
            wrote -= timedelta(days=1)
        customer_writes(phone, wrote, channel=channel, text="Hi, where is my order?")
        agent = rng.choice(agents)
        reply = agent_replies(agent, phone, wrote + timedelta(minutes=rng.lognormvariate(2.3, 1.0)), channel=channel)
        outcome = rng.random()
        report_at = reply.created_at + timedelta(seconds=5)
        if outcome < 0.06:
            plivo_reports(reply, "failed", report_at, error_code=rng.choice(failures))
        else:
            plivo_reports(reply, "delivered", report_at)
            if channel == "whatsapp" and outcome < 0.75:
                plivo_reports(reply, "read", report_at + timedelta(minutes=2))
        if rng.random() < 0.8:
            status_set(agent, phone, "resolved", reply.created_at + timedelta(hours=rng.lognormvariate(0.5, 1.0)), channel=channel)
        if rng.random() < 0.5:
            conversation_labels_set(conversation=conversation_of(phone, channel), by=agent, names=[rng.choice(labels)])
        if rng.random() < 0.04:
            contact_opt_out(contact=conversation_of(phone, channel).contact, channel=channel, reason="STOP", method="keyword")
    while report_refresh():
        pass


def campaign_halfway(manager) -> Campaign:
    """A WhatsApp campaign to 1,200 customers, started 40 minutes ago: some skipped, most queued
    with their messages at every result, the rest still pending."""
    template = MessageTemplateFactory(name="spring_sale", category="MARKETING", body="Hi {{1}}, {{2}} off everything this week.")
    campaign = lifecycle.campaign_create(name="Spring sale 2026", channel="whatsapp", created_by=manager,
                                         template={"name": template.name, "language": template.language}, rate_per_second=2)
    rng = random.Random(16)
    rows = [(f"+1628555{n:04d}", [rng.choice(FIRST_NAMES), rng.choice(["15%", "20%", "25%"])]) for n in range(1200)]
    for n in (7, 311, 902):
        rows[n] = (f"628-555-{n:03d}", rows[n][1])  # no country code: invalid
    rows[500] = rows[499]  # a duplicate row
    recipients.recipients_add(campaign=campaign, rows=rows)
    opted_out = list(campaign.recipients.filter(status="pending").order_by("id")[10:1200:45])
    CampaignRecipient.objects.filter(pk__in=[r.pk for r in opted_out]).update(
        status="skipped", skip_reason="opted_out", skip_detail="Opted out (or erased); never sent.")
    started = timezone.now() - timedelta(minutes=40)
    Campaign.objects.filter(pk=campaign.pk).update(status="sending", started_at=started, next_dispatch_at=timezone.now())
    results = ["read"] * 40 + ["delivered"] * 30 + ["sent"] * 14 + ["failed"] * 3 + ["replied"] * 8 + ["queued"] * 5
    for index, recipient in enumerate(campaign.recipients.filter(status="pending").order_by("id")[:760]):
        result = rng.choice(results)
        queued_at = started + timedelta(seconds=index * 3)
        conversation = ConversationFactory(contact=ContactFactory(phone=recipient.phone, display_name=recipient.parameters[0]),
                                           channel="whatsapp")
        status = {"replied": "read", "queued": "queued"}.get(result, result)
        message = MessageFactory(conversation=conversation, direction="outbound", kind="template", status=status,
                                 text=f"Hi {recipient.parameters[0]}, {recipient.parameters[1]} off everything this week.",
                                 error_code="470" if status == "failed" else "",
                                 error_message="The customer's WhatsApp number has not accepted the new terms." if status == "failed" else "")
        CampaignRecipient.objects.filter(pk=recipient.pk).update(
            status="queued", message=message, queued_at=queued_at,
            replied_at=queued_at + timedelta(minutes=5) if result == "replied" else None)
    campaign.refresh_from_db()
    return campaign


def photograph(picture: str, *, browser, server, user, path: str, out: Path, ready) -> None:
    errors = []
    context = browser.new_context(viewport={"width": 1360, "height": 820 if picture == "inbox" else 900})
    context.add_cookies([session_cookie(user, server.url)])
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.url}{path}")
    ready(page)
    page.screenshot(path=str(out))
    context.close()
    if errors:
        sys.exit(f"the {picture} page raised script errors, picture not trusted: {errors}")
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=ROOT / "docs", help="where the PNGs go (default: docs/)")
    parser.add_argument("--only", choices=PICTURES, action="append", help="draw only this picture (repeatable)")
    args = parser.parse_args()
    wanted = args.only or list(PICTURES)
    if len(wanted) > 1:
        # One process, and so one throwaway database, per picture: none shows another's data.
        import subprocess

        for picture in wanted:
            subprocess.run([sys.executable, __file__, "--dir", str(args.dir), "--only", picture], check=True)
        return

    from playwright.sync_api import expect, sync_playwright

    call_command("migrate", verbosity=0)
    alice, bob = agent("alice", "Alice"), agent("bob", "Bob")
    conversation = busy_inbox(alice, bob) if "inbox" in wanted else None
    if "reports" in wanted:
        month_of_traffic([alice, bob, agent("chen", "Chen")])
    if "campaigns" in wanted:
        carol = agent("carol", "Carol")
        carol.groups.add(Group.objects.get_or_create(name=CAMPAIGN_MANAGERS_GROUP)[0])
        campaign = campaign_halfway(carol)
    log = Path(tempfile.mkdtemp(prefix="parley-screenshot-log-")) / "daphne.log"
    # No quiet hours: the picture must not depend on the hour it is drawn at.
    server = LiveServer(database_url=os.environ["DATABASE_URL"], log_path=log, extra_env={"CAMPAIGN_QUIET_HOURS": ""})
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls next to Playwright's event loop

    def inbox_ready(page):
        expect(page.locator("#message-list .msg")).to_have_count(8)
        expect(page.locator("#connection")).to_have_text("Live")
        page.click("#toggle-contact")
        page.wait_for_timeout(200)  # the panel's slide-in

    def reports_ready(page):
        expect(page.locator("#report-tiles .tile")).to_have_count(8)
        expect(page.locator("#chart-volume svg rect")).not_to_have_count(0)
        page.wait_for_timeout(200)

    def campaigns_ready(page):
        expect(page.locator("#connection")).to_have_text("Live")
        expect(page.locator("#detail-status")).to_have_text("Sending")
        expect(page.locator("#recipient-rows tr")).to_have_count(100)
        page.wait_for_timeout(200)

    try:
        with sync_playwright() as playwright:
            browser = chromium_launch(playwright)
            if "inbox" in wanted:
                photograph("inbox", browser=browser, server=server, user=alice, path=f"/inbox/{conversation.pk}/",
                           out=args.dir / "inbox.png", ready=inbox_ready)
            if "reports" in wanted:
                photograph("reports", browser=browser, server=server, user=alice, path="/inbox/reports/",
                           out=args.dir / "reports.png", ready=reports_ready)
            if "campaigns" in wanted:
                photograph("campaigns", browser=browser, server=server, user=carol, path=f"/campaigns/{campaign.pk}/",
                           out=args.dir / "campaigns.png", ready=campaigns_ready)
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
