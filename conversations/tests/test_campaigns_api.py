"""The campaigns API: who may use it, creating, adding recipients (batch, CSV, label), the
lifecycle with its 409s, the audit entries, results and the CSV export."""

import csv
import importlib
import io

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from conversations.campaign_models import Campaign, CampaignRecipient
from conversations.models import AuditEntry, Label
from conversations.permissions import CAMPAIGN_MANAGERS_GROUP
from conversations.services.contacts import contact_opt_out
from conversations.tests.campaign_support import (  # noqa: F401 (fixtures)
    any_hour,
    approved_template,
    manager,
    manager_client,
    run_to_end,
    whatsapp_campaign,
)
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db

PHONES = ["+14155552001", "+14155552002", "+14155552003"]


def create(client, **overrides):
    body = {"name": "Spring sale", "channel": "whatsapp", "template": {"name": "spring_sale", "language": "en_US"}, **overrides}
    return client.post("/api/v1/campaigns/", body, format="json")


# --- who may -----------------------------------------------------------------------------------------
def test_migration_creates_the_campaign_managers_group_the_permission_check_uses():
    assert Group.objects.filter(name=CAMPAIGN_MANAGERS_GROUP).exists()
    Group.objects.filter(name=CAMPAIGN_MANAGERS_GROUP).delete()
    migration = importlib.import_module("conversations.migrations.0015_campaigns")
    migration.create_campaign_managers_group(apps, None)
    migration.create_campaign_managers_group(apps, None)
    assert Group.objects.filter(name=CAMPAIGN_MANAGERS_GROUP).count() == 1


def test_an_agent_outside_the_group_is_refused_everywhere(agent_client, manager):
    approved_template()
    campaign = whatsapp_campaign(manager, phones=PHONES)
    assert create(agent_client).status_code == 403
    for method, url in [("get", "/api/v1/campaigns/"), ("get", f"/api/v1/campaigns/{campaign.pk}/"),
                        ("post", f"/api/v1/campaigns/{campaign.pk}/start/"), ("post", f"/api/v1/campaigns/{campaign.pk}/stop/"),
                        ("get", f"/api/v1/campaigns/{campaign.pk}/recipients/"), ("get", f"/api/v1/campaigns/{campaign.pk}/export/")]:
        assert getattr(agent_client, method)(url).status_code == 403, url
    assert agent_client.post(f"/api/v1/campaigns/{campaign.pk}/recipients/", {"recipients": [{"phone": "+14155552009"}]},
                             format="json").status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == "draft" and campaign.recipients.count() == 3


def test_non_agents_and_anonymous_callers_are_refused(api_client, outsider):
    assert api_client.get("/api/v1/campaigns/").status_code == 401
    api_client.force_authenticate(outsider)
    outsider.groups.add(Group.objects.get_or_create(name=CAMPAIGN_MANAGERS_GROUP)[0])  # the group alone does not make an agent
    assert api_client.get("/api/v1/campaigns/").status_code == 403


def test_staff_may_manage_campaigns(api_client, staff):
    approved_template()
    api_client.force_authenticate(staff)
    assert create(api_client).status_code == 201


# --- creating -----------------------------------------------------------------------------------------
def test_create_whatsapp_campaign_is_a_draft_and_audited(manager_client, manager):
    approved_template()
    response = create(manager_client, rate_per_second=5)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft" and body["template"] == {"name": "spring_sale", "language": "en_US"}
    assert body["rate_per_second"] == 5 and body["counts"]["total"] == 0
    entry = AuditEntry.objects.get(action="campaign.created")
    assert entry.actor == manager and entry.object_id == str(body["id"])


def test_create_refuses_what_cannot_be_sent(manager_client):
    MessageTemplateFactory(name="pending_one", status="PENDING")
    refused = create(manager_client, template={"name": "pending_one", "language": "en_US"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "template_not_approved"
    approved_template()
    assert create(manager_client, text="free text").json()["error"]["field"] == "text"
    assert create(manager_client, channel="sms", template=None).status_code == 400
    too_fast = create(manager_client, rate_per_second=10_000)
    assert too_fast.status_code == 400 and too_fast.json()["error"]["field"] == "rate_per_second"
    assert not Campaign.objects.exists()


def test_create_sms_campaign_with_placeholders(manager_client):
    response = manager_client.post("/api/v1/campaigns/", {"name": "News", "channel": "sms", "text": "Hi {{1}}!"}, format="json")
    assert response.status_code == 201 and response.json()["text"] == "Hi {{1}}!"


# --- recipients ----------------------------------------------------------------------------------------
def test_batch_reports_added_and_skipped_with_reasons(manager_client, manager):
    campaign = whatsapp_campaign(manager)
    contact_opt_out(contact=ContactFactory(phone="+14155552004"), channel="whatsapp", reason="STOP")
    response = manager_client.post(f"/api/v1/campaigns/{campaign.pk}/recipients/", {"recipients": [
        {"phone": "+1 415 555 2001", "parameters": ["Ann", "20%"]},
        {"phone": "(415) 555-2001", "parameters": ["Ann", "20%"]},
        {"phone": "not a number", "parameters": ["Bo", "20%"]},
        {"phone": "+14155552004", "parameters": ["Cy", "20%"]},
        {"phone": "+14155552005", "parameters": ["Di"]},
        {"phone": "+14155552006", "parameters": ["Ed", "10%"]},
    ]}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["added"], body["skipped"]) == (2, 4)
    assert [(row["row"], row["reason"]) for row in body["skipped_rows"]] == [
        (2, "duplicate"), (3, "invalid_number"), (4, "opted_out"), (5, "invalid_parameters")]
    assert set(campaign.recipients.filter(status="pending").values_list("phone", flat=True)) == {"+14155552001", "+14155552006"}


def test_more_than_a_thousand_per_call_is_refused(manager_client, manager):
    campaign = whatsapp_campaign(manager)
    rows = [{"phone": f"+1415555{3000 + n:04d}", "parameters": ["A", "B"]} for n in range(1001)]
    response = manager_client.post(f"/api/v1/campaigns/{campaign.pk}/recipients/", {"recipients": rows}, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "recipients"
    assert not campaign.recipients.exists()


def test_csv_upload_with_column_mapping(manager_client, manager):
    campaign = whatsapp_campaign(manager)
    data = "Name,Mobile,Discount\nAnn,+14155552001,20%\nBo,+14155552002,\n=HYPERLINK(1),+14155552003,5%\n"
    upload = SimpleUploadedFile("list.csv", data.encode(), content_type="text/csv")
    response = manager_client.post(f"/api/v1/campaigns/{campaign.pk}/recipients/",
                                   {"file": upload, "phone_column": "mobile", "parameter_columns": "Name,Discount"},
                                   format="multipart")
    assert response.status_code == 201, response.json()
    assert (response.json()["added"], response.json()["skipped"]) == (2, 1)
    assert response.json()["skipped_rows"][0]["row"] == 2
    assert list(campaign.recipients.filter(status="pending").values_list("parameters", flat=True)) == [
        ["Ann", "20%"], ["=HYPERLINK(1)", "5%"]]


def test_csv_naming_an_unknown_column_is_refused(manager_client, manager):
    campaign = whatsapp_campaign(manager)
    upload = SimpleUploadedFile("list.csv", b"phone,name\n+14155552001,Ann\n", content_type="text/csv")
    response = manager_client.post(f"/api/v1/campaigns/{campaign.pk}/recipients/", {"file": upload, "phone_column": "mobile"},
                                   format="multipart")
    assert response.status_code == 400 and response.json()["error"]["field"] == "phone_column"


def test_recipients_from_a_label(manager_client, manager):
    campaign = whatsapp_campaign(manager)
    vip = Label.objects.create(name="vip")
    for phone in PHONES[:2]:
        ConversationFactory(contact=ContactFactory(phone=phone), channel="whatsapp").labels.add(vip)
    ConversationFactory(contact=ContactFactory(phone=PHONES[2]), channel="sms").labels.add(vip)  # another channel
    response = manager_client.post(f"/api/v1/campaigns/{campaign.pk}/recipients/", {"label": "VIP", "parameters": ["you", "5%"]},
                                   format="json")
    assert response.json()["added"] == 2
    assert set(campaign.recipients.values_list("phone", flat=True)) == set(PHONES[:2])


# --- lifecycle -----------------------------------------------------------------------------------------
def test_lifecycle_transitions_and_409s(manager_client, manager):
    campaign = whatsapp_campaign(manager)
    url = f"/api/v1/campaigns/{campaign.pk}"
    refused = manager_client.post(f"{url}/start/")
    assert refused.status_code == 409 and "no recipients" in refused.json()["error"]["message"]
    manager_client.post(f"{url}/recipients/", {"recipients": [{"phone": PHONES[0], "parameters": ["A", "B"]}]}, format="json")
    assert manager_client.post(f"{url}/pause/").status_code == 409
    assert manager_client.post(f"{url}/start/").json()["status"] == "sending"
    assert manager_client.post(f"{url}/start/").status_code == 409
    late = manager_client.post(f"{url}/recipients/", {"recipients": [{"phone": PHONES[1], "parameters": ["A", "B"]}]}, format="json")
    assert late.status_code == 409 and "draft or scheduled" in late.json()["error"]["message"]
    assert manager_client.post(f"{url}/pause/").json()["status"] == "paused"
    assert manager_client.post(f"{url}/resume/").json()["status"] == "sending"
    assert manager_client.post(f"{url}/stop/").json()["status"] == "stopped"
    assert manager_client.post(f"{url}/resume/").status_code == 409
    assert manager_client.post(f"{url}/stop/").status_code == 409
    assert list(AuditEntry.objects.filter(object_type="conversations.campaign", object_id=str(campaign.pk)).order_by("id").values_list("action", flat=True)) == [
        "campaign.created", "campaign.started", "campaign.stopped"]


def test_start_with_a_future_time_schedules(manager_client, manager):
    campaign = whatsapp_campaign(manager, phones=PHONES, scheduled_at="2099-01-01T09:00:00Z")
    body = manager_client.post(f"/api/v1/campaigns/{campaign.pk}/start/").json()
    assert body["status"] == "scheduled" and body["estimated_finish_at"] is not None


def test_start_refuses_a_template_no_longer_approved(manager_client, manager):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    campaign_template = approved_template()
    campaign_template.status = "PAUSED"
    campaign_template.save()
    response = manager_client.post(f"/api/v1/campaigns/{campaign.pk}/start/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "template_not_approved"


# --- results ---------------------------------------------------------------------------------------------
def test_results_counts_filters_and_export(manager_client, manager, fake_plivo, any_hour):
    campaign = whatsapp_campaign(manager, phones=[*PHONES, "bad"])
    manager_client.post(f"/api/v1/campaigns/{campaign.pk}/start/")
    run_to_end(campaign)
    body = manager_client.get(f"/api/v1/campaigns/{campaign.pk}/").json()
    assert body["status"] == "completed"
    assert body["counts"] == {"total": 4, "pending": 0, "skipped": 1, "queued": 0, "sent": 3, "delivered": 0, "read": 0,
                              "failed": 0, "replied": 0}
    assert body["progress"] == 1.0
    skipped = manager_client.get(f"/api/v1/campaigns/{campaign.pk}/recipients/?status=skipped").json()["results"]
    assert [(r["phone"], r["skip_reason"]) for r in skipped] == [("bad", "invalid_number")]
    sent = manager_client.get(f"/api/v1/campaigns/{campaign.pk}/recipients/?status=sent&limit=2").json()
    assert len(sent["results"]) == 2 and sent["next_after"] is not None
    export = manager_client.get(f"/api/v1/campaigns/{campaign.pk}/export/")
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [(row["phone"], row["status"]) for row in rows] == [*[(phone, "sent") for phone in PHONES], ("bad", "skipped")]


def test_export_writes_hostile_cells_as_text(manager_client, manager, fake_plivo):
    campaign = whatsapp_campaign(manager)
    CampaignRecipient.objects.create(campaign=campaign, phone="=cmd|'/c calc'!A1", status="skipped",
                                     skip_reason="invalid_number", skip_detail="@SUM(1)")
    export = manager_client.get(f"/api/v1/campaigns/{campaign.pk}/export/")
    row = next(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert row["phone"].startswith("'=") and row["detail"] == "'@SUM(1)"


def test_schema_documents_the_campaign_endpoints(manager_client):
    schema = manager_client.get("/api/v1/schema/?format=json").json()
    for path in ["/api/v1/campaigns/", "/api/v1/campaigns/{id}/", "/api/v1/campaigns/{id}/recipients/",
                 "/api/v1/campaigns/{id}/start/", "/api/v1/campaigns/{id}/pause/", "/api/v1/campaigns/{id}/resume/",
                 "/api/v1/campaigns/{id}/stop/", "/api/v1/campaigns/{id}/export/"]:
        assert path in schema["paths"], path


# --- the page ----------------------------------------------------------------------------------------------
def test_the_campaigns_page_and_its_inbox_link_are_for_campaign_managers_only(client, agent, manager):
    client.force_login(agent)
    assert client.get("/campaigns/").status_code == 403
    assert b'href="/campaigns/"' not in client.get("/inbox/").content
    client.force_login(manager)
    assert client.get("/campaigns/").status_code == 200
    assert b'href="/campaigns/"' in client.get("/inbox/").content
