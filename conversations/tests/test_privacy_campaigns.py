"""Campaigns in a contact's export and erasure: the export lists the campaigns the contact was a
recipient of (and nothing of anyone else's rows), and an erasure leaves no number, name or
parameter of theirs in clear in any campaign row."""

import json

import pytest
from rest_framework.test import APIClient

from conversations.campaign_models import CampaignRecipient
from conversations.campaigns import lifecycle, recipients
from conversations.campaigns.dispatch import campaigns_dispatch
from conversations.models import Contact
from conversations.privacy.erase import contact_erase, erased_phone
from conversations.services.contacts import contact_opt_out
from conversations.tests.campaign_support import (  # noqa: F401 (fixtures)
    any_hour,
    approved_template,
    manager,
    run_to_end,
    sms_campaign,
    whatsapp_campaign,
)
from conversations.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

ANN, BO = "+14155556001", "+14155556002"


@pytest.fixture
def staff_client(staff):
    client = APIClient()
    client.force_authenticate(staff)
    return client


def campaign_with(manager, rows, **kwargs):
    campaign = whatsapp_campaign(manager, **kwargs)
    recipients.recipients_add(campaign=campaign, rows=rows)
    return campaign


def export(client, contact):
    response = client.get(f"/api/v1/contacts/{contact.pk}/export/")
    assert response.status_code == 200
    return response.json()


def campaign_rows_text(**filters) -> str:
    return json.dumps(list(CampaignRecipient.objects.filter(**filters).values()), default=str)


def test_the_export_lists_the_contacts_campaigns_with_status_times_and_message(staff_client, manager, fake_plivo, any_hour):
    ann = ContactFactory(phone=ANN, display_name="Ann Lee")
    spring = campaign_with(manager, [(ANN, ["Ann", "20% for Ann"]), (BO, ["Bo", "secret code BO-77"])])
    lifecycle.campaign_start(campaign=spring, by=manager)
    run_to_end(spring)
    autumn = campaign_with(manager, [(ANN, ["Ann", "30%"]), (ANN, ["Ann again", "31%"])],
                           template=approved_template(name="autumn_sale"))

    memberships = export(staff_client, ann)["campaigns"]

    assert [(m["campaign"]["id"], m["status"], m["skip_reason"]) for m in memberships] == [
        (spring.pk, "sent", ""), (autumn.pk, "pending", ""), (autumn.pk, "skipped", "duplicate")]
    sent = memberships[0]
    assert sent["campaign"] == {"id": spring.pk, "name": "Spring sale", "channel": "whatsapp", "status": "completed"}
    assert sent["phone"] == ANN and sent["parameters"] == ["Ann", "20% for Ann"]
    assert sent["queued_at"] and sent["added_at"]
    message = CampaignRecipient.objects.get(campaign=spring, phone=ANN).message
    assert (sent["message_id"], sent["conversation_id"]) == (message.pk, message.conversation_id)
    exported_ids = [m["id"] for c in export(staff_client, ann)["conversations"] for m in c["messages"]]
    assert message.pk in exported_ids


def test_the_export_holds_nothing_of_another_contacts_campaign_rows(staff_client, manager, fake_plivo, any_hour):
    ann = ContactFactory(phone=ANN)
    spring = campaign_with(manager, [(ANN, ["Ann", "20%"]), (BO, ["Bo", "secret code BO-77"])])
    lifecycle.campaign_start(campaign=spring, by=manager)
    run_to_end(spring)
    # Bo alone in another campaign, and a number that is nobody's (refused as invalid).
    campaign_with(manager, [(BO, ["Bo", "only-bo-campaign"]), ("+1 415 555 60011", ["Ann?", "typo-row"])],
                  template=approved_template(name="autumn_sale"))
    bo_rows = CampaignRecipient.objects.filter(phone=BO)
    assert bo_rows.count() == 2

    document = json.dumps(export(staff_client, ann))

    assert BO not in document and "BO-77" not in document and "only-bo-campaign" not in document
    assert "typo-row" not in document
    assert all(f'"message_id": {row.message_id},' not in document for row in bo_rows if row.message_id)
    assert len(json.loads(document)["campaigns"]) == 1


def test_an_erased_contacts_campaign_rows_keep_no_number_or_parameters(staff_client, staff, manager, fake_plivo, any_hour):
    ann = ContactFactory(phone=ANN, display_name="Ann Lee")
    sent = campaign_with(manager, [(ANN, ["Ann Lee", "order 4411"]), (BO, ["Bo", "order 5522"])])
    lifecycle.campaign_start(campaign=sent, by=manager)
    run_to_end(sent)
    waiting = campaign_with(manager, [(ANN, ["Ann Lee", "order 4412"]), (ANN, ["Ann Lee", "order 4413"])],
                            template=approved_template(name="autumn_sale"))

    contact_erase(contact=ann, by=staff, reason="their request")

    leftovers = campaign_rows_text(campaign__in=[sent, waiting])
    for secret in (ANN, ANN.removeprefix("+"), "Ann Lee", "4411", "4412", "4413"):
        assert secret not in leftovers, secret
    assert "+14155556002" in leftovers and "order 5522" in leftovers  # Bo's rows are Bo's
    assert CampaignRecipient.objects.filter(phone=erased_phone(ann.pk)).count() == 3
    assert set(CampaignRecipient.objects.filter(campaign=waiting).values_list("status", flat=True)) == {"skipped"}
    memberships = export(staff_client, Contact.objects.get(pk=ann.pk))["campaigns"]
    assert len(memberships) == 3 and all(m["parameters"] == [] for m in memberships)


def test_a_skip_reason_written_at_sending_keeps_no_name_or_number_after_erasure(staff, manager, fake_plivo, any_hour,
                                                                                 monkeypatch):
    """The dispatcher checks consent, then sends; a customer who opts out in between is refused by
    `message_send`, whose reason names them ("Ann Lee (+1415…) opted out…"). Erasure clears it."""
    ann = ContactFactory(phone=ANN, display_name="Ann Lee")
    campaign = sms_campaign(manager, phones=[ANN])
    lifecycle.campaign_start(campaign=campaign, by=manager)
    contact_opt_out(contact=ann, channel="sms", reason="STOP", method="keyword")
    monkeypatch.setattr("conversations.campaigns.rules.consent_refusals", lambda **kwargs: {})  # the opt-out lands after the check
    campaigns_dispatch()
    row = CampaignRecipient.objects.get(campaign=campaign)
    assert row.skip_reason == "opted_out" and ANN in row.skip_detail  # the reason as written at sending

    contact_erase(contact=ann, by=staff, reason="their request")

    row.refresh_from_db()
    assert ANN not in row.skip_detail and "Ann Lee" not in row.skip_detail
    assert (row.status, row.skip_reason) == ("skipped", "opted_out")
