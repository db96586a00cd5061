"""A campaign sent by real worker processes (`manage.py run_outbound_worker`): one killed with
SIGKILL mid-campaign, two more racing to finish it; every recipient at most once."""

from collections import Counter

import pytest

from conversations.campaign_models import CampaignRecipient
from conversations.campaigns import lifecycle
from conversations.tests.campaign_support import manager, whatsapp_campaign  # noqa: F401 (fixtures)
from conversations.tests.support import wait_for
from conversations.tests.test_outbound_workers import workers  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

WORKER_ENV = {"CAMPAIGN_QUIET_HOURS": "", "OUTBOUND_LEASE_SECONDS": 2, "OUTBOUND_UNCONFIRMED_TIMEOUT_SECONDS": 600}


def test_a_worker_killed_mid_campaign_and_two_racing_successors_send_each_recipient_at_most_once(fake_plivo, workers, manager):
    fake_plivo.latency = 0.05
    phones = [f"+1415555{3000 + n:04d}" for n in range(60)]
    campaign = whatsapp_campaign(manager, phones=phones, rate_per_second=30)
    lifecycle.campaign_start(campaign=campaign, by=manager)
    queued = lambda: campaign.recipients.filter(status="queued").count()  # noqa: E731

    first = workers("worker-a", **WORKER_ENV)
    assert wait_for(lambda: queued() >= 15, timeout=60), first.output()
    first.process.kill()
    first.stop()
    at_kill = queued()
    assert at_kill < 60

    second, third = workers("worker-b", **WORKER_ENV), workers("worker-c", **WORKER_ENV)
    finished = lambda: campaign.__class__.objects.get(pk=campaign.pk).status == "completed"  # noqa: E731
    assert wait_for(finished, timeout=90), second.output()[-2000:] + third.output()[-2000:]

    per_number = Counter(request.body["dst"] for request in fake_plivo.sends() if request.body)
    assert max(per_number.values()) == 1
    assert set(per_number) <= set(phones)
    recipients = list(CampaignRecipient.objects.filter(campaign=campaign))
    assert {r.status for r in recipients} == {"queued"}
    assert len({r.message_id for r in recipients}) == 60
    # Only sends in flight at the kill may be lost to "unconfirmed" (never resent blindly).
    assert len(per_number) >= 60 - 16
