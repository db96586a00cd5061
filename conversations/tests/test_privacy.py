"""Issue 17: export, erase (with the suppression list), retention and consent records."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from conversations.models import AuditEntry, ConsentRecord, Contact, Message, MessageStatusEvent, SuppressedNumber
from conversations.privacy.consent import contact_has_recorded_opt_in
from conversations.privacy.erase import erased_phone, messages_retention_erase
from conversations.services.contacts import contact_opt_in, contact_opt_out
from conversations.services.inbound import message_receive
from conversations.services.thread_entries import note_add
from conversations.tests.factories import MessageFactory
from conversations.tests.outbound_support import open_conversation
from messaging_site.errors import ApplicationError
from webhooks.payloads import InboundPayload

pytestmark = pytest.mark.django_db

PHONE = "+14155550123"


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff_client(staff):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(staff)
    return client


def inbound(phone=PHONE, text="Hello", uuid="in-1", channel="sms"):
    payload = InboundPayload(
        message_uuid=uuid, from_number=phone, to_number="+14155550000", channel=channel, plivo_type=channel, kind="text", text=text
    )
    return message_receive(payload=payload)[0]


def customer_with_history(agent):
    """A customer on both channels: messages, a status report, a note."""
    sms = open_conversation(channel="sms", phone=PHONE)
    contact = sms.contact
    first = MessageFactory(conversation=sms, direction="inbound", text="My card number is 4111")
    reply = MessageFactory(conversation=sms, direction="outbound", text="Thanks, we will call", status="delivered",
                           media=[{"url": "https://media.example/x.jpg", "content_type": "image/jpeg"}])
    MessageStatusEvent.objects.create(message=reply, plivo_message_uuid="u-1", status="delivered", dedupe_key="u-1:delivered:",
                                      raw_payload={"From": PHONE})
    whatsapp = open_conversation(channel="whatsapp", phone=None)
    whatsapp.contact = contact
    whatsapp.save()
    MessageFactory(conversation=whatsapp, direction="inbound", text="On WhatsApp too")
    note_add(conversation=sms, author=agent, text="Customer sounds upset")
    return contact, first, reply


# --- export --------------------------------------------------------------------------------
def test_export_contains_every_channel_and_nothing_of_other_contacts(staff_client, agent):
    contact, first, reply = customer_with_history(agent)
    other = open_conversation(channel="sms", phone="+14155550999")
    MessageFactory(conversation=other, direction="inbound", text="Someone else's secret")
    contact_opt_out(contact=contact, channel="sms", reason="STOP", method="keyword")

    response = staff_client.get(f"/api/v1/contacts/{contact.pk}/export/")
    assert response.status_code == 200
    document = response.json()
    assert document["contact"]["phone"] == PHONE
    by_channel = {c["channel"]: c for c in document["conversations"]}
    assert set(by_channel) == {"sms", "whatsapp"}
    texts = [m["text"] for c in document["conversations"] for m in c["messages"]]
    assert "My card number is 4111" in texts and "On WhatsApp too" in texts
    assert "Someone else's secret" not in str(document) and "+14155550999" not in str(document)
    assert "Customer sounds upset" not in texts  # internal rows only on request
    exported_reply = next(m for m in by_channel["sms"]["messages"] if m["id"] == reply.pk)
    assert exported_reply["media"][0]["url"] == "https://media.example/x.jpg"
    assert exported_reply["status_history"][0]["status"] == "delivered"
    assert document["consent_history"][0] == {**document["consent_history"][0], "channel": "sms", "opted_in": False, "method": "keyword"}

    with_notes = staff_client.get(f"/api/v1/contacts/{contact.pk}/export/?include_internal=true").json()
    assert "Customer sounds upset" in [m["text"] for c in with_notes["conversations"] for m in c["messages"]]


def test_export_rejects_a_bad_flag(staff_client, agent):
    contact, *_ = customer_with_history(agent)
    response = staff_client.get(f"/api/v1/contacts/{contact.pk}/export/?include_internal=maybe")
    assert response.status_code == 400 and response.json()["error"]["field"] == "include_internal"


# --- erase ---------------------------------------------------------------------------------
def test_erase_removes_content_and_keeps_tombstones(staff_client, agent):
    contact, first, reply = customer_with_history(agent)
    count = Message.objects.filter(conversation__contact=contact).count()

    response = staff_client.post(f"/api/v1/contacts/{contact.pk}/erase/", {"reason": "Customer request 2026-01-05"}, format="json")
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.phone == erased_phone(contact.pk) and contact.display_name == "" and contact.erased_at
    messages = Message.objects.filter(conversation__contact=contact)
    assert messages.count() == count  # counts stay right
    assert all(m.erased_at and m.text == "" and m.media == [] and m.structured == {} for m in messages)
    kept = Message.objects.get(pk=reply.pk)
    assert (kept.direction, kept.kind, kept.status) == ("outbound", "text", "delivered")
    assert MessageStatusEvent.objects.get(message=reply).raw_payload == {}
    assert "4111" not in str(staff_client.get(f"/api/v1/contacts/{contact.pk}/export/?include_internal=true").json())


def test_erase_needs_a_reason_and_happens_once(staff_client, agent):
    contact, *_ = customer_with_history(agent)
    response = staff_client.post(f"/api/v1/contacts/{contact.pk}/erase/", {"reason": "  "}, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "reason"
    assert Contact.objects.get(pk=contact.pk).erased_at is None
    assert staff_client.post(f"/api/v1/contacts/{contact.pk}/erase/", {"reason": "asked"}, format="json").status_code == 200
    again = staff_client.post(f"/api/v1/contacts/{contact.pk}/erase/", {"reason": "asked"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_erased"


def test_an_erased_opted_out_number_stays_suppressed(staff_client, agent_client, agent):
    contact, *_ = customer_with_history(agent)
    contact_opt_out(contact=contact, channel="sms", reason="STOP", method="keyword")
    staff_client.post(f"/api/v1/contacts/{contact.pk}/erase/", {"reason": "Customer request"}, format="json")
    assert SuppressedNumber.objects.filter(channel="sms").count() == 1
    assert PHONE not in str(list(SuppressedNumber.objects.values()))

    # A send to the number is refused...
    response = agent_client.post("/api/v1/messages/", {"to": PHONE, "channel": "sms", "text": "Hi again"}, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "opted_out"
    # ...and a new message from it starts a fresh contact that is still opted out.
    message = inbound(text="Hello, who is this?", uuid="in-after-erase")
    fresh = message.conversation.contact
    assert fresh.pk != contact.pk and fresh.phone == PHONE and fresh.is_opted_out("sms")
    assert ConsentRecord.objects.get(contact=fresh).method == "erasure"
    response = agent_client.post("/api/v1/messages/", {"to": PHONE, "channel": "sms", "text": "Hi again"}, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "opted_out"


def test_an_erased_number_that_never_opted_out_is_not_suppressed(staff_client, agent):
    contact, *_ = customer_with_history(agent)
    staff_client.post(f"/api/v1/contacts/{contact.pk}/erase/", {"reason": "Customer request"}, format="json")
    assert not SuppressedNumber.objects.exists()
    assert not inbound(uuid="in-new").conversation.contact.is_opted_out("sms")


def test_a_send_to_the_erased_contacts_conversation_is_refused(staff_client, agent_client, agent):
    contact, first, _ = customer_with_history(agent)
    staff_client.post(f"/api/v1/contacts/{contact.pk}/erase/", {"reason": "Customer request"}, format="json")
    response = agent_client.post(f"/api/v1/conversations/{first.conversation_id}/messages/", {"text": "Hi"}, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "opted_out"


# --- retention -----------------------------------------------------------------------------
def test_retention_erases_only_what_is_old(agent):
    conversation = open_conversation(channel="sms", phone=PHONE)
    with time_machine.travel(timezone.now() - timedelta(days=40), tick=False):
        old = MessageFactory(conversation=conversation, direction="inbound", text="old", created_at=timezone.now())
    recent = MessageFactory(conversation=conversation, direction="inbound", text="recent")
    with time_machine.travel(timezone.now() - timedelta(days=40), tick=False):
        waiting = MessageFactory(conversation=conversation, direction="outbound", text="still queued", created_at=timezone.now())

    assert messages_retention_erase(older_than=timedelta(days=30), batch_size=1) == 1
    old.refresh_from_db(), recent.refresh_from_db(), waiting.refresh_from_db()
    assert old.text == "" and old.erased_at is not None
    assert recent.text == "recent" and recent.erased_at is None
    assert waiting.text == "still queued"
    assert messages_retention_erase(older_than=timedelta(days=30)) == 0


def test_retention_is_off_by_default(settings):
    from conversations.privacy.erase import retention_chore

    assert settings.MESSAGE_RETENTION_DAYS == 0 and retention_chore() == 0


# --- consent records -----------------------------------------------------------------------
def test_keyword_opt_out_and_opt_in_are_recorded():
    inbound(text="STOP", uuid="in-stop")
    inbound(text="START", uuid="in-start")
    contact = Contact.objects.get(phone=PHONE)
    records = list(ConsentRecord.objects.filter(contact=contact).values_list("opted_in", "method", "channel"))
    assert records == [(False, "keyword", "sms"), (True, "keyword", "sms")]
    assert contact_has_recorded_opt_in(contact, "sms") and not contact_has_recorded_opt_in(contact, "whatsapp")


def test_the_contact_panel_gets_the_consent_history(agent_client):
    inbound(text="STOP", uuid="in-stop")
    contact = Contact.objects.get(phone=PHONE)
    history = agent_client.get(f"/api/v1/contacts/{contact.pk}/").json()["consent_history"]
    assert [(h["channel"], h["opted_in"], h["method"]) for h in history] == [("sms", False, "keyword")]


def test_an_agents_opt_in_needs_a_reason(agent):
    contact = open_conversation(channel="sms", phone=PHONE).contact
    contact_opt_out(contact=contact, channel="sms", reason="STOP", method="keyword")
    with pytest.raises(ApplicationError) as refused:
        contact_opt_in(contact=contact, channel="sms", method="agent", by=agent)
    assert refused.value.field == "reason"
    assert contact_opt_in(contact=contact, channel="sms", method="agent", by=agent, reason="Asked on the phone")
    record = ConsentRecord.objects.filter(contact=contact).last()
    assert (record.opted_in, record.by, record.reason) == (True, agent, "Asked on the phone")


# --- who may --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, path",
    [("get", "/api/v1/contacts/{}/export/"), ("post", "/api/v1/contacts/{}/erase/"), ("get", "/api/v1/audit/")],
)
def test_non_staff_are_refused(method, path, api_client, agent, outsider):
    contact = open_conversation(channel="sms", phone=PHONE).contact
    url = path.format(contact.pk)
    assert getattr(api_client, method)(url, {"reason": "x"} if method == "post" else None).status_code in (401, 403)
    for user in (agent, outsider):
        api_client.force_authenticate(user)
        assert getattr(api_client, method)(url, {"reason": "x"} if method == "post" else None).status_code == 403
    assert Contact.objects.get(pk=contact.pk).erased_at is None
    assert not AuditEntry.objects.filter(action__in=["contact.exported", "contact.erased"]).exists()
