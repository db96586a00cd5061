"""Fill a PostgreSQL database with a large, realistic inbox for the inbox benchmarks.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley_bench \\
        .venv/bin/python bench/seed_large.py --conversations 100000 --messages 1000000

Creates contacts, one conversation each (WhatsApp or SMS; open / pending / resolved; some
assigned to the bench agents `bench1`..`bench3`, password `bench-agent-password`), and
messages spread over 90 days with realistic text, then sets each conversation's activity
markers and ANALYZEs. Rows go in with COPY (a million INSERTs would take far longer). Uses
its own database: with --reset it empties the inbox tables first; without, it refuses to
seed a database that already holds conversations.
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

from conversations.models import Contact, Conversation, Message  # noqa: E402
from conversations.permissions import AGENTS_GROUP  # noqa: E402

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
                "conversations_contact RESTART IDENTITY CASCADE"
            )

    group, _ = Group.objects.get_or_create(name=AGENTS_GROUP)
    agents = []
    for n in range(1, 4):
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
    assignees = rng.choices([None, *agents], [40, 20, 20, 20], k=total)
    copy_rows(
        Conversation,
        ["contact_id", "channel", "status", "assignee_id", "unread_count", "created_at", "updated_at"],
        (
            (contact_ids[n], channels[n], statuses[n], assignees[n], rng.choice([0, 0, 0, 1, 2]) if statuses[n] == "open" else 0, now, now)
            for n in range(total)
        ),
    )
    conversation_ids = list(Conversation.objects.order_by("pk").values_list("pk", flat=True))

    print(f"messages: {sum(counts)}", flush=True)
    ninety_days = 90 * 24 * 3600

    def messages():
        for index, conversation_id in enumerate(conversation_ids):
            moment = now - timedelta(seconds=rng.uniform(0, ninety_days))
            inbound = True
            for _ in range(counts[index]):
                if inbound:
                    yield (conversation_id, "inbound", "text", customer_text(rng), "received", None, moment, moment)
                else:
                    status = rng.choices(["read", "delivered", "sent", "failed"], [60, 30, 8, 2])[0]
                    yield (conversation_id, "outbound", "text", rng.choice(AGENT_REPLIES), status, rng.choice(agents), moment, moment)
                moment += timedelta(seconds=rng.uniform(20, 3600))
                inbound = rng.random() < 0.55
            if index and index % 20000 == 0:
                print(f"  {index} conversations' messages written", flush=True)

    copy_rows(
        Message,
        ["conversation_id", "direction", "kind", "text", "status", "sent_by_id", "created_at", "updated_at"],
        messages(),
    )

    print("activity markers and statistics", flush=True)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE conversations_conversation c
               SET last_message_id = m.id, last_message_at = m.created_at, updated_at = m.created_at
              FROM (SELECT DISTINCT ON (conversation_id) conversation_id, id, created_at
                      FROM conversations_message ORDER BY conversation_id, created_at DESC, id DESC) m
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
    print(
        f"done in {time.monotonic() - started:.0f} s: {Conversation.objects.count()} conversations, "
        f"{Message.objects.count()} messages",
        flush=True,
    )


if __name__ == "__main__":
    main()
