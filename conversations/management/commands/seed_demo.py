"""Demo data for `make run`: an admin, two agents, a dozen customers in varied states,
approved WhatsApp templates, labels and canned replies. Running it again changes nothing."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from conversations.models import CannedReply, Contact, Conversation, Label, Message, MessageTemplate
from conversations.permissions import AGENTS_GROUP

DEMO_USERS = [
    # username, password, first name, staff
    ("admin", "parley-admin-demo", "Ada", True),
    ("alice", "parley-alice-demo", "Alice", False),
    ("bob", "parley-bob-demo", "Bob", False),
]

DEMO_TEMPLATES = [
    {
        "name": "order_update",
        "language": "en_US",
        "category": "UTILITY",
        "header_type": "text",
        "header_text": "Order {{1}}",
        "body": "Hi {{1}}, your order {{2}} is {{3}}. Reply here if you have any questions.",
        "footer": "Parley demo shop",
        "buttons": [{"type": "url", "text": "Track order", "url": "https://example.com/track/{{1}}"}],
    },
    {
        "name": "follow_up",
        "language": "en_US",
        "category": "UTILITY",
        "body": "Hi {{1}}, we're following up on your request. Is there anything else we can help with?",
        "buttons": [{"type": "quick_reply", "text": "Yes, please"}, {"type": "quick_reply", "text": "No, thanks"}],
    },
    {
        "name": "appointment_reminder",
        "language": "en_US",
        "category": "UTILITY",
        "body": "Reminder: your appointment is on {{1}} at {{2}}. Reply to reschedule.",
    },
    {
        "name": "login_code",
        "language": "en_US",
        "category": "AUTHENTICATION",
        "body": "{{1}} is your verification code. For your security, do not share this code.",
    },
    {
        "name": "spring_sale",
        "language": "en_US",
        "category": "MARKETING",
        "status": "PENDING",
        "body": "Our spring sale starts {{1}}: {{2}} off everything.",
    },
]

DEMO_LABELS = [("billing", "#2563eb"), ("vip", "#d97706"), ("shipping", "#059669"), ("urgent", "#dc2626")]
# phone: its conversation's labels
DEMO_CONVERSATION_LABELS = {"+14155550101": ["shipping", "urgent"], "+14155550102": ["vip"], "+14155550107": ["billing"]}

DEMO_CANNED_REPLIES = [
    ("greeting", "Greeting", "Hi {{contact.name}}, thanks for getting in touch! I'm {{agent.name}}; how can I help?"),
    ("refund-policy", "Refund policy", "Refunds go back to the original payment method within 5 business days of us receiving the item."),
    ("shipping-times", "Shipping times", "Orders ship within 1 business day; delivery takes 2-4 days in the US and 5-7 days to Canada."),
    ("callback", "Call back", "Thanks {{contact.name}}, we'll call you on {{contact.phone}} within the hour."),
]

# name, phone, channel, status, assignee, hours since the customer's last message, thread
DEMO_CONVERSATIONS = [
    ("Maria Garcia", "+14155550101", "whatsapp", "open", None, 0.2, [("in", "Hi! My order hasn't arrived yet, can you check?")]),
    ("James Chen", "+14155550102", "whatsapp", "open", "alice", 1, [("in", "Is the blue jacket back in stock?"), ("out", "Let me check that for you, James.")]),
    ("Priya Patel", "+14155550103", "sms", "open", None, 3, [("in", "Can I change my delivery address?")]),
    ("Lucas Silva", "+14155550104", "whatsapp", "pending", "bob", 22, [("in", "I sent the photos of the damaged box."), ("out", "Thanks Lucas, we're reviewing them.")]),
    ("Emma Johnson", "+14155550105", "whatsapp", "open", "alice", 30, [("in", "Do you ship to Canada?"), ("out", "We do! Shipping takes 5-7 days.")]),
    ("Noah Williams", "+14155550106", "sms", "resolved", "bob", 50, [("in", "Thanks, got it!"), ("out", "Happy to help, Noah.")]),
    ("Sofia Rossi", "+14155550107", "whatsapp", "open", None, 0.5, [("in", "Hello, I need help with a refund.")]),
    ("Liam O'Brien", "+14155550108", "sms", "pending", "alice", 5, [("in", "What are your opening hours on Sunday?")]),
    ("Aisha Khan", "+14155550109", "whatsapp", "resolved", "alice", 80, [("in", "All sorted, thank you."), ("out", "Have a great day!")]),
    ("Mateo Fernandez", "+14155550110", "whatsapp", "open", None, 23, [("in", "Can someone call me back?")]),
    ("Chloe Martin", "+14155550111", "sms", "open", "bob", 2, [("in", "STOP")]),
    ("Yuki Tanaka", "+14155550112", "whatsapp", "open", None, 0.1, [("in", "Where can I find my invoice?")]),
]


class Command(BaseCommand):
    help = "Create demo users, contacts, conversations and templates (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Allow seeding with DEBUG off (never on a real deployment).")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates users with published passwords; it only runs with DEBUG on (or --force).")
        with transaction.atomic():
            users = self._users()
            self._templates()
            self._labels_and_canned_replies()
            created = self._conversations(users)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({created} new conversations)."))
        for username, password, _, staff in DEMO_USERS:
            role = "admin" if staff else "agent"
            self.stdout.write(f"  {role:<6} {username:<6} password: {password}")

    def _users(self):
        User = get_user_model()
        agents, _ = Group.objects.get_or_create(name=AGENTS_GROUP)
        users = {}
        for username, password, first_name, staff in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"first_name": first_name, "is_staff": staff, "is_superuser": staff}
            )
            if created:
                user.set_password(password)
                user.save()
            user.groups.add(agents)
            users[username] = user
        return users

    def _templates(self):
        for spec in DEMO_TEMPLATES:
            spec = {"status": "APPROVED", **spec}
            template, _ = MessageTemplate.objects.get_or_create(
                name=spec["name"], language=spec["language"], defaults=spec
            )
            template.full_clean()

    def _labels_and_canned_replies(self):
        for name, colour in DEMO_LABELS:
            Label.objects.get_or_create(name=name, defaults={"colour": colour})
        for shortcut, title, text in DEMO_CANNED_REPLIES:
            CannedReply.objects.get_or_create(shortcut=shortcut, defaults={"title": title, "text": text})

    def _conversations(self, users):
        now = timezone.now()
        created_count = 0
        for name, phone, channel, status, assignee, hours_ago, thread in DEMO_CONVERSATIONS:
            contact, _ = Contact.objects.get_or_create(phone=phone, defaults={"display_name": name})
            conversation, created = Conversation.objects.get_or_create(
                contact=contact,
                channel=channel,
                defaults={"status": status, "assignee": users.get(assignee)},
            )
            if not created:
                continue
            created_count += 1
            last_inbound = now - timedelta(hours=hours_ago)
            message = None
            for index, (direction, text) in enumerate(thread):
                at = last_inbound + timedelta(minutes=index * 2)
                inbound = direction == "in"
                message = Message.objects.create(
                    conversation=conversation,
                    direction="inbound" if inbound else "outbound",
                    text=text,
                    status="received" if inbound else "read",
                    sent_by=None if inbound else users.get(assignee) or users["alice"],
                    created_at=at,
                    sent_at=None if inbound else at,
                    delivered_at=None if inbound else at,
                    read_at=None if inbound else at,
                )
            if text.strip().upper() == "STOP":
                contact.sms_opted_out_at = last_inbound
                contact.sms_opt_out_reason = "Customer sent STOP"
                contact.save()
            conversation.last_message = message
            conversation.last_message_at = message.created_at
            conversation.last_inbound_at = last_inbound
            conversation.unread_count = 0 if status == "resolved" or thread[-1][0] == "out" else 1
            conversation.save()
            conversation.labels.set(Label.objects.filter(name__in=DEMO_CONVERSATION_LABELS.get(phone, [])))
        return created_count
