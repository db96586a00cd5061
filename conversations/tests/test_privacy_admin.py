"""Staff answer a data-subject request from the contact's admin page: Export and Erase buttons,
staff only, CSRF-protected; consent cannot be edited around its history."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from conversations.models import AuditEntry, Contact, Message
from conversations.services.thread_entries import note_add
from conversations.tests.factories import ConversationFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    conversation = ConversationFactory(contact__display_name="Dana Customer", contact__phone="+14155550177")
    MessageFactory(conversation=conversation, direction="inbound", text="my secret address")
    note_add(conversation=conversation, author=UserFactory(username="noter"), text="internal remark")
    return conversation.contact


def test_change_page_offers_export_and_erase(client, staff, customer):
    client.force_login(staff)

    page = client.get(reverse("admin:conversations_contact_change", args=[customer.pk])).content.decode()

    assert reverse("admin:conversations_contact_export", args=[customer.pk]) in page
    assert reverse("admin:conversations_contact_erase", args=[customer.pk]) in page


def test_export_button_downloads_the_document_audited(client, staff, customer):
    client.force_login(staff)

    response = client.get(reverse("admin:conversations_contact_export", args=[customer.pk]))

    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    document = json.loads(response.content)
    texts = [m["text"] for c in document["conversations"] for m in c["messages"]]
    assert "my secret address" in texts and "internal remark" not in texts
    assert AuditEntry.objects.filter(action="contact.exported", object_id=str(customer.pk)).count() == 1

    with_notes = json.loads(client.get(reverse("admin:conversations_contact_export", args=[customer.pk]), {"include_internal": "true"}).content)
    assert "internal remark" in json.dumps(with_notes)


def test_erase_button_asks_for_a_reason_then_erases(client, staff, customer):
    client.force_login(staff)
    url = reverse("admin:conversations_contact_erase", args=[customer.pk])

    form = client.get(url)
    assert form.status_code == 200 and "Erase for good" in form.content.decode()
    assert Contact.objects.get(pk=customer.pk).erased_at is None

    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 200 and Contact.objects.get(pk=customer.pk).erased_at is None

    done = client.post(url, {"reason": "Customer's request of 2026-11-30"})
    assert done.status_code == 302
    customer.refresh_from_db()
    assert customer.erased_at is not None and customer.display_name == ""
    assert not Message.objects.filter(text="my secret address").exists()
    assert AuditEntry.objects.filter(action="contact.erased", object_id=str(customer.pk)).count() == 1


def test_erase_without_csrf_token_is_refused(staff, customer):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)

    response = browser.post(reverse("admin:conversations_contact_erase", args=[customer.pk]), {"reason": "forged"})

    assert response.status_code == 403
    assert Contact.objects.get(pk=customer.pk).erased_at is None


def test_agents_and_view_only_staff_cannot_export_or_erase(client, agent, customer):
    client.force_login(agent)
    for name in ("export", "erase"):
        response = client.get(reverse(f"admin:conversations_contact_{name}", args=[customer.pk]))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]

    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_contact"))
    client.force_login(viewer)
    assert client.post(reverse("admin:conversations_contact_erase", args=[customer.pk]), {"reason": "x"}).status_code == 403
    assert Contact.objects.get(pk=customer.pk).erased_at is None
    assert not AuditEntry.objects.filter(action="contact.exported").exists()


def test_opt_out_fields_cannot_be_edited_in_admin(client, staff):
    contact = Contact.objects.create(phone="+14155550188", sms_opted_out_at="2026-01-01T00:00:00Z", sms_opt_out_reason="STOP")
    client.force_login(staff)

    client.post(reverse("admin:conversations_contact_change", args=[contact.pk]), {
        "phone": contact.phone, "display_name": "Renamed", "sms_opted_out_at_0": "", "sms_opted_out_at_1": "",
        "sms_opt_out_reason": "", "consent_records-TOTAL_FORMS": "0", "consent_records-INITIAL_FORMS": "0",
    })

    contact.refresh_from_db()
    assert contact.display_name == "Renamed"
    assert contact.sms_opted_out_at is not None and contact.sms_opt_out_reason == "STOP"
