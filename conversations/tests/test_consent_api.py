"""An agent opts a customer in or out from the inbox: recorded, audited, refused without a reason
to opt in, and the send path obeys it."""

import pytest
from django.core.cache import cache

from conversations.models import AuditEntry, ConsentRecord, Contact
from conversations.privacy.erase import contact_erase
from conversations.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def consent(client, contact, **body):
    return client.post(f"/api/v1/contacts/{contact.pk}/consent/", body, format="json")


def test_agent_opts_a_customer_out_and_the_history_names_them(agent_client, agent):
    contact = ContactFactory()

    response = consent(agent_client, contact, channel="sms", opted_in=False, reason="Asked on the phone to stop")

    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.sms_opted_out_at is not None
    assert contact.sms_opt_out_reason == "Asked on the phone to stop"
    assert contact.whatsapp_opted_out_at is None
    history = response.json()["consent_history"]
    assert [(h["channel"], h["opted_in"], h["method"], h["by"]) for h in history] == [("sms", False, "agent", agent.username)]
    entry = AuditEntry.objects.get(action="contact.opted_out")
    assert entry.actor == agent and entry.object_id == str(contact.pk)


def test_opt_out_without_reason_says_who(agent_client, agent):
    contact = ContactFactory()

    consent(agent_client, contact, channel="whatsapp", opted_in=False)

    contact.refresh_from_db()
    assert contact.whatsapp_opt_out_reason == f"Opted out by {agent.username}"


def test_opt_in_needs_a_reason_and_changes_nothing_without_one(agent_client):
    contact = ContactFactory(sms_opted_out_at="2026-01-01T00:00:00Z", sms_opt_out_reason="STOP")

    response = consent(agent_client, contact, channel="sms", opted_in=True, reason="   ")

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "reason"
    contact.refresh_from_db()
    assert contact.sms_opted_out_at is not None
    assert not ConsentRecord.objects.exists()


def test_opt_in_with_reason_lets_messages_go_again(agent_client, agent):
    contact = ContactFactory(sms_opted_out_at="2026-01-01T00:00:00Z", sms_opt_out_reason="STOP")

    response = consent(agent_client, contact, channel="sms", opted_in=True, reason="Called us and asked to resume")

    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.sms_opted_out_at is None
    record = ConsentRecord.objects.get()
    assert (record.opted_in, record.method, record.by, record.reason) == (True, "agent", agent, "Called us and asked to resume")


def test_repeating_the_current_state_records_nothing(agent_client):
    contact = ContactFactory()
    consent(agent_client, contact, channel="sms", opted_in=False, reason="x")

    consent(agent_client, contact, channel="sms", opted_in=False, reason="again")

    assert ConsentRecord.objects.count() == 1
    assert AuditEntry.objects.filter(action="contact.opted_out").count() == 1


def test_bad_channel_is_refused_with_the_field(agent_client):
    contact = ContactFactory()

    response = consent(agent_client, contact, channel="fax", opted_in=False)

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "channel"


def test_erased_contact_cannot_be_opted_in(agent_client, staff):
    contact = ContactFactory(sms_opted_out_at="2026-01-01T00:00:00Z", sms_opt_out_reason="STOP")
    contact_erase(contact=contact, by=staff, reason="GDPR request")

    response = consent(agent_client, contact, channel="sms", opted_in=True, reason="they asked")

    assert response.status_code == 409
    assert Contact.objects.get(pk=contact.pk).sms_opted_out_at is not None


def test_non_agents_are_refused(api_client, outsider):
    contact = ContactFactory()
    api_client.force_authenticate(outsider)

    assert consent(api_client, contact, channel="sms", opted_in=False).status_code == 403
    api_client.force_authenticate(None)
    assert consent(api_client, contact, channel="sms", opted_in=False).status_code in (401, 403)
    contact.refresh_from_db()
    assert contact.sms_opted_out_at is None


def test_the_session_client_needs_csrf(agent):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(agent)
    contact = ContactFactory()

    response = browser.post(f"/api/v1/contacts/{contact.pk}/consent/", {"channel": "sms", "opted_in": False},
                            content_type="application/json")

    assert response.status_code == 403
    contact.refresh_from_db()
    assert contact.sms_opted_out_at is None
