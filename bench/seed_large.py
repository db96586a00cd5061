"""Fill a PostgreSQL database with a large, realistic inbox for the inbox and report benchmarks.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley_bench \\
        .venv/bin/python bench/seed_large.py --conversations 400000 --messages 4000000

Creates contacts, one conversation each (WhatsApp or SMS; open / pending / resolved; some
assigned to the bench agents `bench1`..`bench12`, password `bench-agent-password`; about a third
labelled), and messages spread over 90 days with realistic text: customers and agents taking
turns, delivery outcomes with Plivo error codes, resolutions (and some reopenings) as the
inbox's own activity entries, and opt-outs. Then it sets each conversation's activity markers,
ANALYZEs and builds the report rollups (`report_rebuild`, as `manage.py reports_rebuild`). Rows
go in with COPY (a million INSERTs would take far longer). Uses its own database: with --reset
it empties the inbox tables first; without, it refuses to seed a database that already holds
conversations.
"""

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta, timezone

from support import django_setup  # bench/support.py, beside this script

django_setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, models  # noqa: E402

from conversations.models import ConsentRecord, Contact, Conversation, Label, Message  # noqa: E402
from conversations.permissions import AGENTS_GROUP  # noqa: E402
from conversations.reports.rollups import report_rebuild  # noqa: E402

AGENTS = 12
LABELS = ["billing", "delivery", "returns", "vip", "complaint", "sales", "warranty", "urgent"]
FAILURE_CODES = ["30", "50", "70", "80", "100", "200", "420"]
RESOLVED_ENTRY = json.dumps({"activity": {"action": "status", "status": "resolved"}})
REOPENED_ENTRY = json.dumps({"activity": {"action": "status", "status": "open", "reason": "customer"}})
NO_STRUCTURE = "{}"
FIRST_NAMES = (
    "Maria James Priya Lucas Emma Noah Sofia Liam Aisha Mateo Chloe Yuki Olivia Ethan Amara Diego Hana Omar Lena Kofi "
    "Ines Ravi Zoe Mohammed Grace Pedro Freya Tariq Elena Samuel Mei Jonas Fatima Hugo Nadia Arjun Clara Felix Leila Tom"
).split()
LAST_NAMES = (
    "Garcia Chen Patel Silva Johnson Williams Rossi O'Brien Khan Fernandez Martin Tanaka Smith Müller Dubois Kowalski "
    "Nguyen Okafor Haddad Jensen Costa Novak Moreau Ivanova Sato Andersson Mensah Rahman Lopez Schmidt Brown Kim"
).split()
COMMON_WORDS = (
    "the a to I you is my it and for of on in can order please thanks hi hello when where what help have we will "
    "be with this your not but do at just me our so there no yes about get any how would like need know check "
    "today tomorrow time now back status update delivery shipping address change cancel refund return payment card "
    "invoice receipt price discount code account password login email phone number store open hours item size "
    "colour stock available parcel package box tracking courier driver arrived late damaged missing wrong replace"
).split()
RARE_WORDS = (
    "warranty voucher subscription upgrade downgrade exchange appointment reschedule confirmation pickup "
    "installation manual charger battery screen cracked leaking broken sticker fragile customs invoice-copy "
    "loyalty points birthday gift wrapping engraving monogram bespoke allergy gluten vegan halal kosher "
    "wheelchair parking terrace balcony espresso grinder kettle blender toaster microwave"
).split()
AGENT_REPLIES = [
    "Thanks for reaching out! Let me check that for you.",
    "I've looked into your order and it is on its way.",
    "Sorry about that, I've arranged a replacement.",
    "Your refund has been processed; it takes 3-5 days to show.",
    "Could you send me your order number, please?",
    "Happy to help! Is there anything else?",
    "The courier will deliver tomorrow between 9 and 12.",
    "I've updated the delivery address on your order.",
]
WEIGHTS = [1 / (rank + 1) for rank in range(len(COMMON_WORDS))]


def customer_text(rng: random.Random) -> str:
    words = rng.choices(COMMON_WORDS, WEIGHTS, k=rng.randint(4, 18))
    if rng.random() < 0.15:
        words.insert(rng.randrange(len(words)), rng.choice(RARE_WORDS))
    if rng.random() < 0.1:
        words.append(f"#{rng.randint(1000, 999999)}")
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice([".", "?", "!", ""])


def copy_rows(model, fields: list[str], rows):
    """COPY `rows` (tuples for `fields`) into `model`'s table; other columns get their defaults."""
    opts = model._meta
    concrete = [
        f for f in opts.concrete_fields if not f.primary_key and not isinstance(f, models.GeneratedField) and f.column
    ]
    by_name = {f.name: f for f in concrete}
    extra = [f for f in concrete if f.name not in fields and f.attname not in fields]
    extra_values = []
    for field in extra:
        default = field.get_default()
        if isinstance(field, models.JSONField):
            default = json.dumps(default)
        extra_values.append(default)
    columns = [by_name[name].column if name in by_name else name for name in fields] + [f.column for f in extra]
    sql = f'COPY "{opts.db_table}" ({", ".join(chr(34) + c + chr(34) for c in columns)}) FROM STDIN'
    count = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row((*row, *extra_values))
                count += 1
    return count


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--days", type=int, default=90, help="spread the conversations over this many days")
    parser.add_argument("--reset", action="store_true", help="empty the inbox tables first")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("seed_large needs PostgreSQL: set DATABASE_URL=postgres://... (a database of its own)")
    rng = random.Random(args.seed)
    started = time.monotonic()

    call_command("migrate", verbosity=0)
    if Conversation.objects.exists():
        if not args.reset:
            sys.exit("This database already has conversations; pass --reset to replace them.")
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE conversations_inboxevent, conversations_message, conversations_conversation, "
                "conversations_contact, conversations_reportday, conversations_reportpending RESTART IDENTITY CASCADE"
            )

    group, _ = Group.objects.get_or_create(name=AGENTS_GROUP)
    agents = []
    for n in range(1, AGENTS + 1):
        user, created = get_user_model().objects.get_or_create(username=f"bench{n}", defaults={"first_name": f"Bench {n}"})
        if created:
            user.set_password("bench-agent-password")
            user.save()
        user.groups.add(group)
        agents.append(user.pk)

    now = datetime.now(timezone.utc)
    total = args.conversations
    print(f"contacts: {total}", flush=True)
    copy_rows(
        Contact,
        ["phone", "display_name", "created_at", "updated_at"],
        (
            (f"+1{2000000000 + n * 7:010d}", f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", now, now)
            for n in range(total)
        ),
    )
    contact_ids = list(Contact.objects.order_by("pk").values_list("pk", flat=True))

    # Message counts per conversation: skewed (most short, a few very long), summing to --messages.
    weights = [rng.expovariate(1.0) for _ in range(total)]
    scale = (args.messages - total) / sum(weights)
    counts = [1 + int(w * scale) for w in weights]
    shortfall = args.messages - sum(counts)
    for index in rng.sample(range(total), abs(shortfall)) if shortfall else []:
        counts[index] += 1 if shortfall > 0 else (-1 if counts[index] > 1 else 0)

    print(f"conversations: {total}", flush=True)
    statuses = rng.choices(["open", "pending", "resolved"], [20, 10, 70], k=total)
    channels = rng.choices(["whatsapp", "sms"], [70, 30], k=total)
    assignees = rng.choices([None, *agents], [40] + [60 / len(agents)] * len(agents), k=total)
    copy_rows(
        Conversation,
        ["contact_id", "channel", "status", "assignee_id", "unread_count", "created_at", "updated_at"],
        (
            (contact_ids[n], channels[n], statuses[n], assignees[n], rng.choice([0, 0, 0, 1, 2]) if statuses[n] == "open" else 0, now, now)
            for n in range(total)
        ),
    )
    conversation_ids = list(Conversation.objects.order_by("pk").values_list("pk", flat=True))

    print(f"labels on about a third of the conversations", flush=True)
    label_ids = [Label.objects.get_or_create(name=name)[0].pk for name in LABELS]
    copy_rows(
        Conversation.labels.through,
        ["conversation_id", "label_id"],
        (
            (conversation_id, label_id)
            for conversation_id in conversation_ids if rng.random() < 0.33
            for label_id in rng.sample(label_ids, rng.choice([1, 1, 1, 2]))
        ),
    )

    print(f"messages: {sum(counts)}", flush=True)
    span = args.days * 24 * 3600
    columns = ["conversation_id", "direction", "kind", "text", "status", "sent_by_id", "error_code", "structured",
               "created_at", "updated_at"]

    def messages():
        for index, conversation_id in enumerate(conversation_ids):
            moment = now - timedelta(seconds=rng.uniform(3600, span))
            count, resolved = counts[index], statuses[index] == "resolved"
            agent = assignees[index] or rng.choice(agents)
            # A long thread is sometimes resolved half-way and reopened by the customer.
            reopen_at = rng.randrange(2, count - 2) if count >= 6 and rng.random() < 0.3 else None
            inbound = True
            for position in range(count):
                last = position == count - 1
                if resolved and last and count >= 2:
                    yield (conversation_id, "internal", "activity", "Resolved", "", agent, "", RESOLVED_ENTRY, moment, moment)
                elif position == reopen_at:
                    yield (conversation_id, "internal", "activity", "Resolved", "", agent, "", RESOLVED_ENTRY, moment, moment)
                    moment += timedelta(hours=rng.uniform(2, 48))
                    inbound = True
                    continue
                elif inbound:
                    yield (conversation_id, "inbound", "text", customer_text(rng), "received", None, "", NO_STRUCTURE,
                           moment, moment)
                    if reopen_at is not None and position == reopen_at + 1:
                        yield (conversation_id, "internal", "activity", "Reopened: the customer wrote", "", None, "",
                               REOPENED_ENTRY, moment, moment)
                else:
                    status = rng.choices(["read", "delivered", "sent", "failed"], [60, 30, 8, 2])[0]
                    error_code = rng.choice(FAILURE_CODES) if status == "failed" else ""
                    yield (conversation_id, "outbound", "text", rng.choice(AGENT_REPLIES), status, agent, error_code,
                           NO_STRUCTURE, moment, moment)
                moment += timedelta(seconds=rng.uniform(20, 3600))
                inbound = rng.random() < 0.55
            if index and index % 20000 == 0:
                print(f"  {index} conversations' messages written", flush=True)

    copy_rows(Message, columns, messages())

    print("opt-outs", flush=True)
    copy_rows(
        ConsentRecord,
        ["contact_id", "channel", "opted_in", "method", "reason", "created_at"],
        (
            (contact_ids[n], channels[n], False, "keyword", "Replied STOP", now - timedelta(seconds=rng.uniform(0, span)))
            for n in range(total) if rng.random() < 0.01
        ),
    )

    print("activity markers and statistics", flush=True)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE conversations_conversation c
               SET last_message_id = m.id, last_message_at = m.created_at, updated_at = m.created_at
              FROM (SELECT DISTINCT ON (conversation_id) conversation_id, id, created_at
                      FROM conversations_message WHERE direction <> 'internal'
                     ORDER BY conversation_id, created_at DESC, id DESC) m
             WHERE m.conversation_id = c.id
            """
        )
        cursor.execute(
            """
            UPDATE conversations_conversation c SET last_inbound_at = m.last_inbound
              FROM (SELECT conversation_id, max(created_at) AS last_inbound FROM conversations_message
                     WHERE direction = 'inbound' GROUP BY conversation_id) m
             WHERE m.conversation_id = c.id
            """
        )
    # The UPDATEs above left every conversation row's old version behind: rewrite the table
    # (as a long-lived database looks after autovacuum), and set the visibility map.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM FULL ANALYZE conversations_conversation")
        cursor.execute("VACUUM ANALYZE conversations_contact")
        cursor.execute("VACUUM ANALYZE conversations_message")
        cursor.execute("VACUUM ANALYZE conversations_conversation_labels")
        cursor.execute("VACUUM ANALYZE conversations_consentrecord")
    print("report rollups", flush=True)
    rebuild_started = time.monotonic()
    written = report_rebuild(say=lambda text: print(text, flush=True))
    print(f"  {written['episodes']} episodes, {written['rows']} day rows in {time.monotonic() - rebuild_started:.0f} s",
          flush=True)
    with connection.cursor() as cursor:
        # Every rollup table: without statistics the planner takes a day's thousands of durations
        # for a handful and sorts them all (a 90-day summary at 950 ms instead of ~100 ms).
        for rollup in ("reportepisode", "reportday", "reportduration", "reportdurationcount"):
            cursor.execute(f"VACUUM ANALYZE conversations_{rollup}")
    print(
        f"done in {time.monotonic() - started:.0f} s: {Conversation.objects.count()} conversations, "
        f"{Message.objects.count()} messages",
        flush=True,
    )


if __name__ == "__main__":
    main()
