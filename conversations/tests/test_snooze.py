"""Snooze: out of Open until a time, back by itself when it comes."""

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations.models import Conversation, InboxEvent, Message
from conversations.outbound import OutboundWorker
from conversations.services.snooze import conversations_wake_snoozed, snooze_activity_text
from conversations.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversations/{}/"


def snooze(client, conversation, until):
    return client.patch(URL.format(conversation.pk), {"status": "snoozed", "snoozed_until": until}, format="json")


def test_snoozing_leaves_open_and_records_until_when(agent_client, agent):
    conversation = ConversationFactory()
    until = timezone.now() + timedelta(hours=1)
    response = snooze(agent_client, conversation, until.isoformat())
    assert response.status_code == 200
    assert response.json()["status"] == "snoozed"
    assert response.json()["snoozed_until"] == until.astimezone(timezone.get_current_timezone()).isoformat().replace("+00:00", "Z")
    listed = lambda status: [row["id"] for row in agent_client.get("/api/v1/conversations/", {"status": status}).json()["results"]]  # noqa: E731
    assert listed("snoozed") == [conversation.pk] and listed("open") == []
    entry = Message.objects.get(conversation=conversation, kind="activity")
    assert entry.structured["activity"] == {"action": "snoozed", "until": until.isoformat()}
    assert entry.text.startswith("Snoozed by Alice until ") and entry.sent_by == agent


def test_activity_text_names_the_day_and_time(agent):
    with time_machine.travel("2030-01-07 12:00Z"):  # a Monday
        assert snooze_activity_text(by="Alice", until=timezone.now() + timedelta(days=1, hours=-3)) == \
            "Snoozed by Alice until Tue 09:00"
        assert snooze_activity_text(by="Alice", until=timezone.now() + timedelta(days=14)) == \
            "Snoozed by Alice until Mon 21 Jan 12:00"


@pytest.mark.parametrize("change, code", [
    ({"status": "snoozed"}, "required"),
    ({"status": "snoozed", "snoozed_until": "2001-01-01T09:00:00Z"}, "in_the_past"),
    ({"status": "snoozed", "snoozed_until": "2999-01-01T09:00:00Z"}, "too_far"),
    ({"status": "snoozed", "snoozed_until": "next tuesday"}, "invalid"),
    ({"status": "open", "snoozed_until": "2999-01-01T09:00:00Z"}, "requires_snoozed_status"),
    ({"snoozed_until": "2999-01-01T09:00:00Z"}, "requires_snoozed_status"),
])
def test_a_bad_snooze_is_a_400_naming_snoozed_until(agent_client, change, code):
    conversation = ConversationFactory()
    response = agent_client.patch(URL.format(conversation.pk), change, format="json")
    assert response.status_code == 400
    assert (response.json()["error"]["field"], response.json()["error"]["code"]) == ("snoozed_until", code)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == ("open", None)


@pytest.mark.parametrize("status, until", [("snoozed", None), ("open", timezone.now()), ("resolved", timezone.now())])
def test_the_database_keeps_snoozed_and_its_time_together(status, until):
    with pytest.raises(IntegrityError), transaction.atomic():
        ConversationFactory(status=status, snoozed_until=until)


def test_any_other_status_ends_the_snooze(agent_client):
    conversation = ConversationFactory()
    snooze(agent_client, conversation, (timezone.now() + timedelta(days=1)).isoformat())
    response = agent_client.patch(URL.format(conversation.pk), {"status": "resolved"}, format="json")
    assert (response.json()["status"], response.json()["snoozed_until"]) == ("resolved", None)


def test_it_wakes_by_itself_when_the_time_comes(agent_client, django_capture_on_commit_callbacks):
    conversation = ConversationFactory()
    snooze(agent_client, conversation, (timezone.now() + timedelta(hours=1)).isoformat())
    with time_machine.travel(timezone.now() + timedelta(minutes=59)):
        assert conversations_wake_snoozed() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        with django_capture_on_commit_callbacks(execute=True):
            assert conversations_wake_snoozed() == 1
        assert conversations_wake_snoozed() == 0
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == ("open", None)
    woke = Message.objects.filter(conversation=conversation, kind="activity").last()
    assert (woke.text, woke.sent_by, woke.structured["activity"]["action"]) == ("Woke from snooze", None, "woke")
    assert InboxEvent.objects.filter(type="conversation.updated").latest("id").data["conversation"]["status"] == "open"


def test_a_snooze_ended_meanwhile_is_not_woken_again(agent_client):
    conversation = ConversationFactory()
    snooze(agent_client, conversation, (timezone.now() + timedelta(hours=1)).isoformat())
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        # Picked as due, then resolved by an agent before this worker got to it.
        real_update = type(Conversation.objects.all()).update

        def resolved_just_before(queryset, **values):
            if values.get("status") == "open":
                Conversation.objects.filter(pk=conversation.pk).update(status="resolved", snoozed_until=None)
            return real_update(queryset, **values)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(type(Conversation.objects.all()), "update", resolved_just_before)
            assert conversations_wake_snoozed() == 0
    conversation.refresh_from_db()
    assert conversation.status == "resolved"
    assert not Message.objects.filter(conversation=conversation, text="Woke from snooze").exists()


def test_the_outbound_workers_periodic_chore_wakes_snoozes(agent_client):
    """What runs it in production and in the embedded default (a thread of the web process)."""
    conversation = ConversationFactory()
    snooze(agent_client, conversation, (timezone.now() + timedelta(hours=1)).isoformat())
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        OutboundWorker(stop_when_idle=True).run()
    conversation.refresh_from_db()
    assert conversation.status == "open"
