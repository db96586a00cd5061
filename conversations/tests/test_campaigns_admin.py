"""Staff manage campaigns in the admin: the list with progress, filters and search, a campaign's
page where what the server owns is read-only, its recipients page by page, and the lifecycle as
admin actions that follow the API's rules and write the same audit entries. Nobody else gets in."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from conversations.campaign_models import Campaign, CampaignRecipient
from conversations.campaigns import lifecycle, recipients
from conversations.models import AuditEntry
from conversations.tests.campaign_support import (  # noqa: F401 (fixtures)
    any_hour,
    approved_template,
    manager,
    sms_campaign,
    whatsapp_campaign,
)
from conversations.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PHONES = ["+14155554001", "+14155554002", "+14155554003"]
CHANGELIST = "admin:conversations_campaign_changelist"
RECIPIENTS = "admin:conversations_campaignrecipient_changelist"


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def change_url(campaign):
    return reverse("admin:conversations_campaign_change", args=[campaign.pk])


def actions_post(client, action, *campaigns):
    return client.post(reverse(CHANGELIST), {"action": action, "_selected_action": [c.pk for c in campaigns]}, follow=True)


def audit_actions(campaign):
    return list(AuditEntry.objects.filter(object_type="conversations.campaign", object_id=str(campaign.pk))
                .order_by("id").values_list("action", "actor__username"))


def form_data(campaign, **overrides):
    local = timezone.localtime(campaign.scheduled_at) if campaign.scheduled_at else None
    return {"name": campaign.name, "scheduled_at_0": local.strftime("%Y-%m-%d") if local else "",
            "scheduled_at_1": local.strftime("%H:%M:%S") if local else "",
            "rate_per_second": campaign.rate_per_second or "", **overrides}


# --- who gets in ------------------------------------------------------------------------------------------
def test_agents_and_non_staff_campaign_managers_do_not_get_in(client, agent, manager):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    urls = [reverse(CHANGELIST), change_url(campaign), reverse(RECIPIENTS) + f"?campaign__id__exact={campaign.pk}"]
    for user in (agent, manager):
        client.force_login(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], (user, url)
        response = client.post(reverse(CHANGELIST), {"action": "campaigns_start", "_selected_action": [campaign.pk]})
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    campaign.refresh_from_db()
    assert campaign.status == "draft" and audit_actions(campaign) == [("campaign.created", "carol")]


def test_staff_without_the_campaign_permissions_are_refused(client, manager):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    clerk = UserFactory(username="clerk", is_staff=True)
    client.force_login(clerk)
    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(change_url(campaign)).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    client.force_login(clerk)
    assert client.get(reverse(CHANGELIST)).status_code == 200
    assert actions_post(client, "campaigns_start", campaign).status_code == 200  # the action is not offered
    campaign.refresh_from_db()
    assert campaign.status == "draft"


# --- the list ---------------------------------------------------------------------------------------------
def test_the_list_shows_status_progress_and_counts_and_filters_and_searches(staff_client, manager, any_hour):
    spring = whatsapp_campaign(manager, phones=PHONES)
    recipients.recipients_add(campaign=spring, rows=[("not-a-number", ["Ann", "20%"])])
    lifecycle.campaign_start(campaign=spring, by=manager)
    news = sms_campaign(manager, phones=PHONES[:1])
    news.name = "Store news"
    news.save()

    page = staff_client.get(reverse(CHANGELIST)).content.decode()
    assert "Spring sale" in page and "Store news" in page
    assert "25%" in page  # 1 of 4 recipients no longer pending (the invalid number, skipped)
    assert "0 / 1 / 4" in page and "0 / 0 / 1" in page
    assert "carol" in page.lower()

    sending = staff_client.get(reverse(CHANGELIST), {"status__exact": "sending"}).content.decode()
    assert "Spring sale" in sending and "Store news" not in sending
    sms = staff_client.get(reverse(CHANGELIST), {"channel__exact": "sms"}).content.decode()
    assert "Store news" in sms and "Spring sale" not in sms
    found = staff_client.get(reverse(CHANGELIST), {"q": "news"}).content.decode()
    assert "Store news" in found and "Spring sale" not in found


def test_campaigns_are_not_created_or_deleted_here(staff_client, manager):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    assert staff_client.get(reverse("admin:conversations_campaign_add")).status_code == 403
    assert staff_client.post(reverse("admin:conversations_campaign_delete", args=[campaign.pk]), {"post": "yes"}).status_code == 403
    assert Campaign.objects.filter(pk=campaign.pk).exists()


# --- a campaign's page ------------------------------------------------------------------------------------
def test_the_page_shows_counts_and_keeps_what_the_server_owns_read_only(staff_client, manager):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    page = staff_client.get(change_url(campaign)).content.decode()
    assert 'name="name"' in page and 'name="rate_per_second"' in page
    assert 'name="status"' not in page and 'name="template_name"' not in page and 'name="started_at"' not in page
    assert "<th>pending</th><td>3</td>" in page
    assert f"?campaign__id__exact={campaign.pk}" in page

    response = staff_client.post(change_url(campaign), form_data(campaign, status="completed", template_name="other",
                                                                 started_at="2020-01-01"))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.status, campaign.template_name, campaign.started_at) == ("draft", "spring_sale", None)


def test_name_schedule_and_rate_change_through_the_apis_rules_and_are_audited(staff_client, staff, manager):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    later = timezone.now() + timedelta(days=2)
    response = staff_client.post(change_url(campaign), form_data(
        campaign, name="Spring sale (final)", rate_per_second="2", scheduled_at_0=timezone.localtime(later).strftime("%Y-%m-%d"),
        scheduled_at_1="09:00:00"))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.rate_per_second, campaign.status) == ("Spring sale (final)", 2, "draft")
    entry = AuditEntry.objects.get(action="campaign.changed")
    assert entry.actor == staff and set(entry.details) == {"name", "rate_per_second", "scheduled_at"}

    past = staff_client.post(change_url(campaign), form_data(campaign, scheduled_at_0="2020-01-01", scheduled_at_1="09:00:00"))
    assert past.status_code == 200 and "scheduled_at is in the past" in past.content.decode()
    too_fast = staff_client.post(change_url(campaign), form_data(campaign, rate_per_second="100000"))
    assert too_fast.status_code == 200 and "rate_per_second may lower the sending rate" in too_fast.content.decode()
    campaign.refresh_from_db()
    assert campaign.scheduled_at > timezone.now() and campaign.rate_per_second == 2
    assert AuditEntry.objects.filter(action="campaign.changed").count() == 1


def test_a_scheduled_campaign_cleared_of_its_time_is_a_draft_again(staff_client, manager):
    campaign = whatsapp_campaign(manager, phones=PHONES, scheduled_at=timezone.now() + timedelta(days=1))
    lifecycle.campaign_start(campaign=campaign, by=manager)
    response = staff_client.post(change_url(campaign), form_data(campaign, scheduled_at_0="", scheduled_at_1=""))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.status, campaign.scheduled_at) == ("draft", None)


def test_a_sending_campaign_cannot_be_changed_here(staff_client, manager, any_hour):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    lifecycle.campaign_start(campaign=campaign, by=manager)
    page = staff_client.get(change_url(campaign)).content.decode()
    assert 'name="name"' not in page and 'name="rate_per_second"' not in page
    staff_client.post(change_url(campaign), {"name": "Hijacked", "rate_per_second": "0.1"})
    campaign.refresh_from_db()
    assert (campaign.name, campaign.rate_per_second) == ("Spring sale", None)


# --- the lifecycle actions --------------------------------------------------------------------------------
def test_the_actions_follow_the_lifecycle_and_write_the_same_audit_entries(staff_client, manager, any_hour):
    campaign = whatsapp_campaign(manager, phones=PHONES)
    empty = whatsapp_campaign(manager, template=approved_template(name="autumn_sale"))

    page = actions_post(staff_client, "campaigns_start", campaign, empty).content.decode()
    assert "Started 1 campaign(s)." in page and "no recipients to send to" in page
    campaign.refresh_from_db()
    empty.refresh_from_db()
    assert (campaign.status, empty.status) == ("sending", "draft")

    assert "only a campaign that is paused can be resumed" in actions_post(staff_client, "campaigns_resume", campaign).content.decode()
    actions_post(staff_client, "campaigns_pause", campaign)
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    actions_post(staff_client, "campaigns_resume", campaign)
    campaign.refresh_from_db()
    assert campaign.status == "sending"
    actions_post(staff_client, "campaigns_stop", campaign)
    campaign.refresh_from_db()
    assert campaign.status == "stopped" and campaign.recipients.filter(status="pending").count() == 3
    assert audit_actions(campaign) == [("campaign.created", "carol"), ("campaign.started", "staff"), ("campaign.stopped", "staff")]


# --- recipients ------------------------------------------------------------------------------------------
def test_a_campaigns_recipients_are_listed_a_page_at_a_time_and_filtered(staff_client, manager, django_assert_max_num_queries):
    campaign = whatsapp_campaign(manager)
    recipients.recipients_add(campaign=campaign, rows=[(f"+1415555{n:04d}", ["Ann", "20%"]) for n in range(5000, 5150)]
                              + [("not-a-number", ["Bo", "5%"])])
    other = whatsapp_campaign(manager, phones=["+14155559999"], template=approved_template(name="autumn_sale"))
    url = reverse(RECIPIENTS)

    with django_assert_max_num_queries(12):
        first = staff_client.get(url, {"campaign__id__exact": campaign.pk}).content.decode()
    assert first.count('class="field-phone"') == 100 and "+14155559999" not in first
    rest = staff_client.get(url, {"campaign__id__exact": campaign.pk, "p": 2}).content.decode()
    assert rest.count('class="field-phone"') == 51
    skipped = staff_client.get(url, {"campaign__id__exact": campaign.pk, "result": "skipped"}).content.decode()
    assert skipped.count('class="field-phone"') == 1 and "not-a-number" in skipped
    assert "+14155559999" in staff_client.get(url, {"campaign__id__exact": other.pk}).content.decode()

    recipient = CampaignRecipient.objects.filter(campaign=campaign).first()
    detail = staff_client.get(reverse("admin:conversations_campaignrecipient_change", args=[recipient.pk]))
    assert detail.status_code == 200 and 'name="phone"' not in detail.content.decode()
    staff_client.post(reverse("admin:conversations_campaignrecipient_change", args=[recipient.pk]), {"phone": "+14155550000"})
    recipient.refresh_from_db()
    assert recipient.phone == "+14155555000"
