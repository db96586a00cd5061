"""Activity entries: who assigned, unassigned, resolved or reopened a conversation, in its thread."""

import pytest

from conversations.models import InboxEvent, Message
from conversations.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversations/{}/"


def activity(conversation) -> list[tuple[str, str, int | None]]:
    return [
        (entry.structured["activity"]["action"], entry.text, entry.sent_by_id)
        for entry in Message.objects.filter(conversation=conversation, kind="activity").order_by("created_at", "id")
    ]


def patch(client, conversation, change):
    return client.patch(URL.format(conversation.pk), change, format="json")


def test_assigning_to_a_colleague_and_taking_it_are_recorded_by_name(agent_client, agent, other_agent):
    conversation = ConversationFactory()
    assert patch(agent_client, conversation, {"assignee_id": agent.pk}).status_code == 200
    assert patch(agent_client, conversation, {"assignee_id": other_agent.pk}).status_code == 200
    assert activity(conversation) == [
        ("assigned", "Alice took this", agent.pk),
        ("assigned", "Alice assigned this to Bob", agent.pk),
    ]
    entry = Message.objects.filter(kind="activity").last()
    assert entry.structured["activity"]["assignee_id"] == other_agent.pk


def test_unassigning_says_who_was_dropped(api_client, other_agent, staff):
    mine = ConversationFactory(assignee=other_agent)
    colleagues = ConversationFactory(assignee=other_agent)
    api_client.force_authenticate(other_agent)
    assert patch(api_client, mine, {"assignee_id": None}).status_code == 200
    api_client.force_authenticate(staff)
    assert patch(api_client, colleagues, {"assignee_id": None}).status_code == 200
    assert activity(mine) == [("unassigned", "Bob unassigned this", other_agent.pk)]
    assert activity(colleagues) == [("unassigned", "staff unassigned Bob", staff.pk)]


def test_status_changes_are_recorded_and_a_repeat_is_not(agent_client, agent):
    conversation = ConversationFactory()
    for status in ("resolved", "resolved", "open", "pending"):
        assert patch(agent_client, conversation, {"status": status}).status_code == 200
    assert activity(conversation) == [
        ("status", "Resolved by Alice", agent.pk),
        ("status", "Reopened by Alice", agent.pk),
        ("status", "Alice set this to pending", agent.pk),
    ]


def test_a_refused_change_leaves_no_entry(agent_client, other_agent):
    conversation = ConversationFactory(assignee=other_agent)
    response = patch(agent_client, conversation, {"status": "resolved", "assignee_id": None})
    assert response.status_code == 403
    assert activity(conversation) == []
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_entries_are_in_the_thread_and_pushed_live_with_the_new_state(agent_client, agent, django_capture_on_commit_callbacks):
    conversation = ConversationFactory()
    with django_capture_on_commit_callbacks(execute=True):
        patch(agent_client, conversation, {"status": "resolved"})
    [entry] = [row for row in agent_client.get(f"{URL.format(conversation.pk)}messages/").json()["results"]
               if row["kind"] == "activity"]
    assert (entry["direction"], entry["text"], entry["payload"]) == (
        "internal", "Resolved by Alice", {"activity": {"action": "status", "status": "resolved"}}
    )
    pushed = InboxEvent.objects.filter(type="message.created").latest("id").data
    assert pushed["message"]["id"] == entry["id"] and pushed["conversation"]["status"] == "resolved"
    # An entry is not the customer's last word: the list preview stays as it was.
    assert pushed["conversation"]["last_message"] is None
