"""/api/v1/notifications/: each agent's own mentions, newest first, marked read by them alone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations import events
from conversations.models import Notification
from conversations.services.thread_entries import note_add
from conversations.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/notifications/"


@pytest.fixture
def bob_client(api_client, other_agent):
    api_client.force_authenticate(other_agent)
    return api_client


@pytest.fixture
def pushes(monkeypatch):
    """What `events.user_push` sent, per user id, after commit."""
    sent = []
    monkeypatch.setattr(events, "group_send", lambda group, message: sent.append((group, message)))
    return sent


def mention(author, text="@bob please look", conversation=None, minutes_ago=0):
    note = note_add(conversation=conversation or ConversationFactory(), author=author, text=text)
    if minutes_ago:
        Notification.objects.filter(message=note).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return note


def test_the_list_is_newest_first_with_the_unread_count(bob_client, agent, other_agent):
    older = mention(agent, "@bob first", minutes_ago=5)
    newer = mention(agent, "@bob second")
    body = bob_client.get(LIST_URL).json()
    assert [row["message"]["id"] for row in body["results"]] == [newer.pk, older.pk]
    assert body["unread_count"] == 2 and body["next_cursor"] is None
    first = body["results"][0]
    assert first["kind"] == "mention" and first["read_at"] is None
    assert first["actor"] == {"id": agent.pk, "name": "Alice"}
    assert first["message"] == {"id": newer.pk, "kind": "note", "excerpt": "@bob second"}
    contact = newer.conversation.contact
    assert first["conversation"] == {
        "id": newer.conversation_id, "channel": "whatsapp",
        "contact": {"id": contact.pk, "phone": contact.phone, "display_name": contact.display_name},
    }


def test_agents_see_only_their_own_notifications(api_client, agent, other_agent):
    mention(agent, "@bob only for bob")
    api_client.force_authenticate(agent)
    body = api_client.get(LIST_URL).json()
    assert body == {"results": [], "next_cursor": None, "unread_count": 0}


def test_pages_follow_the_cursor_without_repeats(bob_client, agent):
    made = [mention(agent, f"@bob {n}", minutes_ago=10 - n).pk for n in range(5)]
    seen, cursor = [], None
    while True:
        body = bob_client.get(LIST_URL, {"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [row["message"]["id"] for row in body["results"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(made))


def test_a_bad_cursor_is_a_400_naming_it(bob_client):
    response = bob_client.get(LIST_URL, {"cursor": "garbage"})
    assert response.status_code == 400 and response.json()["error"]["field"] == "cursor"


def test_the_list_can_hold_only_the_unread(bob_client, agent, other_agent):
    read, unread = mention(agent), mention(agent)
    Notification.objects.filter(message=read).update(read_at=timezone.now())
    body = bob_client.get(LIST_URL, {"unread": "true"}).json()
    assert [row["message"]["id"] for row in body["results"]] == [unread.pk] and body["unread_count"] == 1


def test_a_long_note_is_shown_as_an_excerpt(bob_client, agent):
    mention(agent, "@bob " + "very long " * 100)
    excerpt = bob_client.get(LIST_URL).json()["results"][0]["message"]["excerpt"]
    assert len(excerpt) <= 200 and excerpt.endswith("…")


@pytest.mark.parametrize("how_many", [1, 12])
def test_the_list_costs_the_same_queries_for_one_or_many(bob_client, agent, django_assert_num_queries, how_many):
    for n in range(how_many):
        mention(agent, f"@bob {n}")
    # The agent check, the page (actor, conversation, contact and note joined in), the unread count.
    with django_assert_num_queries(3):
        assert len(bob_client.get(LIST_URL).json()["results"]) == how_many


def test_marking_one_read_is_for_its_recipient_only(bob_client, api_client, agent, other_agent, pushes,
                                                    django_capture_on_commit_callbacks):
    mention(agent)
    second = mention(agent)
    notification = Notification.objects.get(message=second)
    from rest_framework.test import APIClient

    alice = APIClient()
    alice.force_authenticate(agent)
    response = alice.post(f"{LIST_URL}{notification.pk}/read/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    notification.refresh_from_db()
    assert notification.read_at is None

    with django_capture_on_commit_callbacks(execute=True):
        response = bob_client.post(f"{LIST_URL}{notification.pk}/read/")
    assert response.status_code == 200 and response.json()["read_at"] is not None
    assert bob_client.get(LIST_URL).json()["unread_count"] == 1
    assert pushes == [(events.user_group(other_agent.pk), {"type": "user.event", "event": {
        "type": "notifications.read", "payload": {"ids": [notification.pk], "all": False, "unread_count": 1}}})]


def test_marking_read_again_changes_nothing(bob_client, agent, pushes, django_capture_on_commit_callbacks):
    mention(agent)
    notification = Notification.objects.get()
    first = bob_client.post(f"{LIST_URL}{notification.pk}/read/").json()["read_at"]
    with django_capture_on_commit_callbacks(execute=True):
        again = bob_client.post(f"{LIST_URL}{notification.pk}/read/")
    assert again.status_code == 200 and again.json()["read_at"] == first and pushes == []


def test_an_unknown_notification_is_404(bob_client):
    assert bob_client.post(f"{LIST_URL}999999/read/").status_code == 404


def test_marking_all_read_leaves_colleagues_alone(bob_client, agent, other_agent, staff, pushes,
                                                   django_capture_on_commit_callbacks):
    mention(agent)
    mention(agent)
    mention(other_agent, "@alice yours")
    with django_capture_on_commit_callbacks(execute=True):
        response = bob_client.post(f"{LIST_URL}read/")
    assert response.status_code == 200 and response.json() == {"marked": 2, "unread_count": 0}
    assert Notification.objects.get(recipient=agent).read_at is None
    assert [group for group, _ in pushes] == [events.user_group(other_agent.pk)]
    assert pushes[0][1]["event"]["payload"] == {"ids": None, "all": True, "unread_count": 0}


@pytest.mark.parametrize("method, url", [
    ("get", LIST_URL), ("post", f"{LIST_URL}read/"), ("post", f"{LIST_URL}1/read/"),
])
def test_anonymous_and_non_agents_are_refused(api_client, outsider, method, url):
    anonymous = getattr(api_client, method)(url)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"
    api_client.force_authenticate(outsider)
    assert getattr(api_client, method)(url).status_code == 403


def test_a_mention_is_pushed_to_the_recipient_only_after_commit(agent, other_agent, pushes,
                                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        note = mention(agent, "@bob look")
    assert pushes == []  # nothing before the commit
    for callback in callbacks:
        callback()
    user_pushes = [(group, message) for group, message in pushes if message["type"] == "user.event"]
    assert len(user_pushes) == 1
    group, message = user_pushes[0]
    assert group == events.user_group(other_agent.pk)
    event = message["event"]
    assert event["type"] == "notification.created" and event["payload"]["unread_count"] == 1
    assert event["payload"]["notification"]["message"]["id"] == note.pk
    assert "cursor" not in event
