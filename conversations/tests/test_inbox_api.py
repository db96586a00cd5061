"""The inbox's read/browse API: list, thread, actions, contacts and the event catch-up feed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations import events
from conversations.models import Conversation, InboxEvent, Message
from conversations.services.conversations import conversation_record_message
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageFactory
from conversations.tests.support import broadcast

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/conversations/"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Hashing a password the production way takes a second or two on a busy CI machine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def conversation_at(minutes_ago: int, **kwargs) -> Conversation:
    moment = timezone.now() - timedelta(minutes=minutes_ago)
    return ConversationFactory(last_message_at=moment, last_inbound_at=moment, **kwargs)


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


class TestAccess:
    @pytest.mark.parametrize(
        "url", [LIST_URL, "/api/v1/events/?after=0", "/api/v1/agents/", "/api/v1/conversations/1/messages/"]
    )
    def test_anonymous_is_refused(self, api_client, url):
        response = api_client.get(url)
        assert response.status_code in (401, 403)
        assert response.json()["error"]["code"] == "not_authenticated"

    def test_logged_in_non_agent_is_refused(self, api_client, outsider):
        conversation = conversation_at(1)
        api_client.force_authenticate(outsider)
        assert api_client.get(LIST_URL).status_code == 403
        assert api_client.patch(f"{LIST_URL}{conversation.pk}/", {"status": "resolved"}, format="json").status_code == 403
        conversation.refresh_from_db()
        assert conversation.status == "open"

    def test_session_write_without_csrf_token_is_refused(self, client, agent):
        from django.test import Client

        conversation = conversation_at(1)
        csrf_client = Client(enforce_csrf_checks=True)
        csrf_client.force_login(agent)
        response = csrf_client.patch(
            f"{LIST_URL}{conversation.pk}/", {"status": "resolved"}, content_type="application/json"
        )
        assert response.status_code == 403
        conversation.refresh_from_db()
        assert conversation.status == "open"


class TestConversationList:
    def test_newest_activity_first_and_cursor_pages_never_repeat_or_skip(self, agent_client):
        made = [conversation_at(minutes) for minutes in range(7)]
        # Two share a timestamp: the id breaks the tie.
        Conversation.objects.filter(pk=made[3].pk).update(last_message_at=made[2].last_message_at)
        seen, cursor = [], None
        while True:
            response = agent_client.get(LIST_URL, {"limit": 3, **({"cursor": cursor} if cursor else {})})
            assert response.status_code == 200
            seen += ids(response)
            cursor = response.json()["next_cursor"]
            if not cursor:
                break
        expected = sorted(made, key=lambda c: (Conversation.objects.get(pk=c.pk).last_message_at, c.pk), reverse=True)
        assert seen == [c.pk for c in expected]

    def test_views_filter_and_counts(self, agent_client, agent, other_agent):
        mine = conversation_at(1, assignee=agent)
        theirs = conversation_at(2, assignee=other_agent)
        free = conversation_at(3)
        conversation_at(4, status="resolved", assignee=agent)
        response = agent_client.get(LIST_URL, {"status": "open", "assignee": "me"})
        assert ids(response) == [mine.pk]
        assert response.json()["counts"] == {"mine": 1, "unassigned": 1, "all": 3}
        assert response.json()["count_limit"] == 1000
        assert ids(agent_client.get(LIST_URL, {"status": "open", "assignee": "none"})) == [free.pk]
        assert ids(agent_client.get(LIST_URL, {"status": "open", "assignee": other_agent.pk})) == [theirs.pk]
        assert ids(agent_client.get(LIST_URL, {"status": "open"})) == [mine.pk, theirs.pk, free.pk]

    def test_status_and_channel_filters(self, agent_client):
        sms = conversation_at(1, channel="sms")
        whatsapp = conversation_at(2, channel="whatsapp")
        pending = conversation_at(3, status="pending")
        assert ids(agent_client.get(LIST_URL, {"status": "open", "channel": "sms"})) == [sms.pk]
        assert ids(agent_client.get(LIST_URL, {"status": "open", "channel": "whatsapp"})) == [whatsapp.pk]
        assert ids(agent_client.get(LIST_URL, {"status": "pending"})) == [pending.pk]

    def test_conversation_without_any_message_is_not_listed(self, agent_client):
        ConversationFactory(last_message_at=None)
        assert ids(agent_client.get(LIST_URL)) == []

    @pytest.mark.parametrize(
        "params,field",
        [
            ({"status": "closed"}, "status"),
            ({"channel": "fax"}, "channel"),
            ({"assignee": "somebody"}, "assignee"),
            ({"limit": 0}, "limit"),
            ({"cursor": "not-a-cursor"}, "cursor"),
        ],
    )
    def test_bad_filter_is_a_clear_400(self, agent_client, params, field):
        response = agent_client.get(LIST_URL, params)
        assert response.status_code == 400
        assert response.json()["error"]["field"] == field
        assert response.json()["error"]["message"]

    def test_search_finds_name_phone_and_message_text(self, agent_client):
        by_name = conversation_at(1, contact=ContactFactory(display_name="Zelda Quartermain", phone="+14155550901"))
        by_phone = conversation_at(2, contact=ContactFactory(display_name="Someone", phone="+14155550977"))
        by_text = conversation_at(3, contact=ContactFactory(display_name="Other", phone="+14155550903"))
        MessageFactory(conversation=by_text, text="My parcel arrived crushed, I want a refund")
        MessageFactory(conversation=by_name, text="hello")
        assert ids(agent_client.get(LIST_URL, {"q": "quarterm"})) == [by_name.pk]
        assert ids(agent_client.get(LIST_URL, {"q": "555 0977"})) == [by_phone.pk]
        assert ids(agent_client.get(LIST_URL, {"q": "refund"})) == [by_text.pk]
        assert ids(agent_client.get(LIST_URL, {"q": "nothing-matches-this"})) == []

    def test_query_count_does_not_grow_with_rows(self, agent_client, django_assert_max_num_queries, agent):
        for minutes in range(3):
            conversation = conversation_at(minutes, assignee=agent)
            conversation_record_message(conversation=conversation, message=MessageFactory(conversation=conversation), inbound=True)
        with django_assert_max_num_queries(3):
            small = agent_client.get(LIST_URL)
        with django_assert_max_num_queries(10):
            small_search = agent_client.get(LIST_URL, {"q": "a"})
        for minutes in range(3, 30):
            conversation = conversation_at(minutes, assignee=agent)
            conversation_record_message(conversation=conversation, message=MessageFactory(conversation=conversation), inbound=True)
        with django_assert_max_num_queries(3):
            large = agent_client.get(LIST_URL)
        with django_assert_max_num_queries(10):
            large_search = agent_client.get(LIST_URL, {"q": "a"})
        assert len(large.json()["results"]) == 30
        assert small.status_code == small_search.status_code == large_search.status_code == 200


class TestConversationUpdate:
    def url(self, conversation):
        return f"{LIST_URL}{conversation.pk}/"

    def test_resolve_and_reopen_publish_the_change_and_its_activity_entry(self, agent_client):
        conversation = conversation_at(1)
        before = InboxEvent.objects.count()
        response = agent_client.patch(self.url(conversation), {"status": "resolved"}, format="json")
        assert response.status_code == 200 and response.json()["status"] == "resolved"
        assert agent_client.patch(self.url(conversation), {"status": "open"}, format="json").json()["status"] == "open"
        events_written = InboxEvent.objects.filter(id__gt=0).order_by("id")[before:]
        assert [e.type for e in events_written] == ["conversation.updated", "message.created"] * 2
        assert [e.data["conversation"]["status"] for e in events_written] == ["resolved", "resolved", "open", "open"]
        assert [e.data["message"]["text"] for e in events_written[1::2]] == ["Resolved by Alice", "Reopened by Alice"]

    def test_agent_takes_unassigned_and_hands_own_to_a_colleague(self, agent_client, agent, other_agent):
        conversation = conversation_at(1)
        assert agent_client.patch(self.url(conversation), {"assignee_id": agent.pk}, format="json").json()["assignee"]["id"] == agent.pk
        response = agent_client.patch(self.url(conversation), {"assignee_id": other_agent.pk}, format="json")
        assert response.status_code == 200 and response.json()["assignee"]["id"] == other_agent.pk

    def test_agent_cannot_take_a_colleagues_conversation(self, agent_client, other_agent, agent):
        conversation = conversation_at(1, assignee=other_agent)
        for change in ({"assignee_id": agent.pk}, {"assignee_id": None}):
            response = agent_client.patch(self.url(conversation), change, format="json")
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "assigned_to_colleague"
        conversation.refresh_from_db()
        assert conversation.assignee == other_agent

    def test_staff_may_reassign_anyone(self, api_client, staff, agent, other_agent):
        conversation = conversation_at(1, assignee=other_agent)
        api_client.force_authenticate(staff)
        response = api_client.patch(self.url(conversation), {"assignee_id": agent.pk}, format="json")
        assert response.status_code == 200 and response.json()["assignee"]["id"] == agent.pk

    def test_cannot_assign_to_a_non_agent(self, agent_client, outsider):
        conversation = conversation_at(1)
        response = agent_client.patch(self.url(conversation), {"assignee_id": outsider.pk}, format="json")
        assert response.status_code == 422
        assert response.json()["error"] == {"message": "Conversations can only be assigned to active agents.", "field": "assignee_id", "code": "not_an_agent"}
        conversation.refresh_from_db()
        assert conversation.assignee is None

    def test_empty_or_invalid_change_is_refused(self, agent_client):
        conversation = conversation_at(1)
        assert agent_client.patch(self.url(conversation), {}, format="json").status_code == 400
        response = agent_client.patch(self.url(conversation), {"status": "archived"}, format="json")
        assert response.status_code == 400 and response.json()["error"]["field"] == "status"

    def test_unknown_conversation_is_404_in_the_error_shape(self, agent_client):
        response = agent_client.patch(f"{LIST_URL}999999/", {"status": "resolved"}, format="json")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    def test_mark_read_sets_unread_to_zero_once(self, agent_client):
        conversation = conversation_at(1, unread_count=4)
        response = agent_client.post(f"{LIST_URL}{conversation.pk}/read/")
        assert response.status_code == 200 and response.json()["unread_count"] == 0
        before = InboxEvent.objects.count()
        agent_client.post(f"{LIST_URL}{conversation.pk}/read/")
        assert InboxEvent.objects.count() == before  # nothing changed: no event


class TestThreadMessages:
    def make_thread(self, count):
        conversation = conversation_at(1)
        start = timezone.now() - timedelta(hours=1)
        messages = [
            MessageFactory(conversation=conversation, created_at=start + timedelta(seconds=n), text=f"message {n}")
            for n in range(count)
        ]
        return conversation, messages

    def test_newest_page_oldest_first_then_load_older(self, agent_client):
        conversation, messages = self.make_thread(7)
        url = f"{LIST_URL}{conversation.pk}/messages/"
        first = agent_client.get(url, {"limit": 3}).json()
        assert [m["text"] for m in first["results"]] == ["message 4", "message 5", "message 6"]
        older = agent_client.get(url, {"limit": 3, "before": first["older_cursor"]}).json()
        assert [m["text"] for m in older["results"]] == ["message 1", "message 2", "message 3"]
        oldest = agent_client.get(url, {"limit": 3, "before": older["older_cursor"]}).json()
        assert [m["text"] for m in oldest["results"]] == ["message 0"]
        assert oldest["older_cursor"] is None

    def test_after_cursor_catches_up(self, agent_client):
        conversation, messages = self.make_thread(5)
        url = f"{LIST_URL}{conversation.pk}/messages/"
        page = agent_client.get(url, {"limit": 2}).json()
        cursor = page["results"][0]["cursor"]  # "message 3"
        newer = agent_client.get(url, {"after": cursor, "limit": 5}).json()
        assert [m["text"] for m in newer["results"]] == ["message 4"]
        assert newer["has_more"] is False
        start = agent_client.get(url, {"after": agent_client.get(url, {"limit": 5}).json()["results"][0]["cursor"], "limit": 2}).json()
        assert [m["text"] for m in start["results"]] == ["message 1", "message 2"] and start["has_more"] is True

    def test_before_and_after_together_are_refused(self, agent_client):
        conversation, _ = self.make_thread(1)
        response = agent_client.get(f"{LIST_URL}{conversation.pk}/messages/", {"before": "x", "after": "y"})
        assert response.status_code == 400

    def test_query_count_does_not_grow_with_messages(self, agent_client, agent, django_assert_max_num_queries):
        conversation, messages = self.make_thread(3)
        for message in messages:
            message.reply_to = messages[0]
            message.save()
        MessageFactory.create_batch(40, conversation=conversation, direction="outbound", sent_by=agent, reply_to=messages[1])
        with django_assert_max_num_queries(4):
            response = agent_client.get(f"{LIST_URL}{conversation.pk}/messages/", {"limit": 100})
        assert len(response.json()["results"]) == 43

    def test_every_kind_keeps_its_structured_payload(self, agent_client):
        conversation = conversation_at(1)
        MessageFactory(conversation=conversation, kind="location", text="", structured={"location": {"latitude": "52.5", "longitude": "13.4", "name": "Shop", "address": "Main St 1"}})
        MessageFactory(conversation=conversation, kind="media", media=[{"url": "https://cdn.example/p.jpg", "content_type": "image/jpeg"}])
        rows = agent_client.get(f"{LIST_URL}{conversation.pk}/messages/").json()["results"]
        assert rows[0]["payload"]["location"]["name"] == "Shop"
        assert rows[1]["media"][0]["content_type"] == "image/jpeg"


class TestSendInAConversation:
    def test_send_in_a_conversation_goes_to_its_contact_on_its_channel(self, agent_client, agent):
        conversation = conversation_at(1)
        response = agent_client.post(
            f"{LIST_URL}{conversation.pk}/messages/", {"kind": "text", "text": "hi"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
        assert response.status_code == 202
        message = Message.objects.get(pk=response.json()["id"])
        assert (message.conversation_id, message.text, message.sent_by_id) == (conversation.pk, "hi", agent.pk)

    def test_kind_and_its_deprecated_name_type_must_agree(self, agent_client):
        conversation = conversation_at(1)
        url = f"{LIST_URL}{conversation.pk}/messages/"
        assert agent_client.post(url, {"type": "text", "text": "hi"}, format="json").status_code == 202
        response = agent_client.post(url, {"kind": "text", "type": "media", "text": "hi"}, format="json")
        assert response.status_code == 400 and response.json()["error"]["field"] == "kind"

    def test_send_to_unknown_conversation_is_404(self, agent_client):
        response = agent_client.post(f"{LIST_URL}424242/messages/", {"type": "text", "text": "hi"}, format="json")
        assert response.status_code == 404


class TestContacts:
    def test_rename_publishes_and_keeps_text_verbatim(self, agent_client):
        contact = ContactFactory(display_name="Old")
        payload = '<img src=x onerror="alert(1)">'
        response = agent_client.patch(f"/api/v1/contacts/{contact.pk}/", {"display_name": f"  {payload} "}, format="json")
        assert response.status_code == 200
        assert response.json()["display_name"] == payload
        event = InboxEvent.objects.latest("id")
        assert event.type == "contact.updated" and event.data["contact"]["display_name"] == payload

    def test_too_long_name_is_refused(self, agent_client):
        contact = ContactFactory(display_name="Old")
        response = agent_client.patch(f"/api/v1/contacts/{contact.pk}/", {"display_name": "x" * 201}, format="json")
        assert response.status_code == 400 and response.json()["error"]["field"] == "display_name"
        contact.refresh_from_db()
        assert contact.display_name == "Old"

    def test_agents_list_has_agents_and_staff_only(self, agent_client, agent, other_agent, staff, outsider):
        names = {row["username"] for row in agent_client.get("/api/v1/agents/").json()}
        assert names == {"alice", "bob", "staff"}


class TestEventReplay:
    def test_without_after_returns_the_head(self, agent_client):
        conversation = conversation_at(1)
        head = broadcast(events.conversation_updated_event(conversation)).id
        assert agent_client.get("/api/v1/events/").json() == {"events": [], "last_cursor": head, "reset": False}

    def test_replays_events_after_cursor_in_order(self, agent_client):
        conversation = conversation_at(1)
        first = broadcast(events.conversation_updated_event(conversation))
        second = broadcast(events.message_created_event(MessageFactory(conversation=conversation)))
        third = broadcast(events.conversation_updated_event(conversation))
        body = agent_client.get("/api/v1/events/", {"after": first.id}).json()
        assert [e["cursor"] for e in body["events"]] == [second.id, third.id]
        assert body["events"][0]["type"] == "message.created"
        assert body["events"][0]["payload"]["message"]["id"] == second.data["message"]["id"]
        assert body["last_cursor"] == third.id and body["reset"] is False

    def test_too_large_a_gap_tells_the_page_to_reload(self, agent_client):
        conversation = conversation_at(1)
        cursors = [broadcast(events.conversation_updated_event(conversation)).id for _ in range(6)]
        body = agent_client.get("/api/v1/events/", {"after": cursors[0], "limit": 3}).json()
        assert body == {"events": [], "last_cursor": cursors[-1], "reset": True}

    def test_cursor_from_the_future_resets(self, agent_client):
        conversation = conversation_at(1)
        head = broadcast(events.conversation_updated_event(conversation)).id
        body = agent_client.get("/api/v1/events/", {"after": head + 1000}).json()
        assert body["reset"] is True and body["last_cursor"] == head


class TestEventPruning:
    def age(self, event, days):
        InboxEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(days=days))

    def test_prune_deletes_only_events_past_retention_and_keeps_the_newest(self):
        conversation = conversation_at(1)
        old, recent = [broadcast(events.conversation_updated_event(conversation)) for _ in range(2)]
        self.age(old, 8)
        assert events.inbox_events_prune(older_than=timedelta(days=7)) == 1
        assert list(InboxEvent.objects.values_list("id", flat=True)) == [recent.id]
        self.age(recent, 30)  # an idle inbox: the newest stays, new pages start from it
        assert events.inbox_events_prune(older_than=timedelta(days=7)) == 0
        assert InboxEvent.objects.get().id == recent.id

    def test_a_page_whose_cursor_was_pruned_reloads_instead_of_missing_events(self, agent_client):
        conversation = conversation_at(1)
        logged = [broadcast(events.conversation_updated_event(conversation)) for _ in range(4)]
        for event in logged[:3]:
            self.age(event, 8)
        events.inbox_events_prune(older_than=timedelta(days=7), batch=2)
        body = agent_client.get("/api/v1/events/", {"after": logged[0].id}).json()
        assert body == {"events": [], "last_cursor": logged[3].id, "reset": True}

    def test_catching_up_from_before_the_first_event_of_an_unpruned_log_replays_it(self, agent_client):
        # The page asks with some overlap below its cursor, which can reach below the oldest
        # event without anything having been pruned (a fresh log, or rows never committed).
        conversation = conversation_at(1)
        first, second = [broadcast(events.conversation_updated_event(conversation)) for _ in range(2)]
        body = agent_client.get("/api/v1/events/", {"after": max(0, first.id - 20)}).json()
        assert body["reset"] is False
        assert [event["cursor"] for event in body["events"]][-2:] == [first.id, second.id]

    def test_a_page_past_the_cut_keeps_catching_up_after_a_prune(self, agent_client):
        conversation = conversation_at(1)
        logged = [broadcast(events.conversation_updated_event(conversation)) for _ in range(3)]
        self.age(logged[0], 8)
        events.inbox_events_prune(older_than=timedelta(days=7))
        later = broadcast(events.conversation_updated_event(conversation))
        body = agent_client.get("/api/v1/events/", {"after": logged[1].id}).json()
        assert body["reset"] is False and [event["cursor"] for event in body["events"]] == [logged[2].id, later.id]

    def test_a_gap_left_by_a_rolled_back_change_is_not_mistaken_for_pruning(self, agent_client):
        from django.db import transaction

        conversation = conversation_at(1)
        first = broadcast(events.conversation_updated_event(conversation))
        with pytest.raises(RuntimeError), transaction.atomic():
            broadcast(events.conversation_updated_event(conversation))
            raise RuntimeError("the change fails after its event was written")
        last = broadcast(events.conversation_updated_event(conversation))
        body = agent_client.get("/api/v1/events/", {"after": first.id}).json()
        assert [event["cursor"] for event in body["events"]] == [last.id] and body["reset"] is False


def test_schema_documents_every_inbox_endpoint(agent_client):
    schema = agent_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    for path in (
        "/api/v1/conversations/",
        "/api/v1/conversations/{id}/",
        "/api/v1/conversations/{id}/read/",
        "/api/v1/conversations/{id}/messages/",
        "/api/v1/contacts/{id}/",
        "/api/v1/events/",
        "/api/v1/agents/",
    ):
        assert path in schema["paths"], path


class TestSearchRoutes:
    """Search takes one of three routes (few matches; newest windows; plain): same answers."""

    @pytest.fixture(autouse=True)
    def many_matches(self, monkeypatch):
        from conversations.selectors import search

        monkeypatch.setattr(search, "SEARCH_FEW", 0)  # any match counts as "too many to list"
        monkeypatch.setattr(search, "SEARCH_DENSE", 0)  # and the newest windows are always tried

    def test_rare_match_far_down_the_list_is_found(self, agent_client, monkeypatch):
        from conversations.selectors import search

        monkeypatch.setattr(search, "SEARCH_WINDOW", 5)  # 12 newer conversations: both windows miss
        old = conversation_at(500, contact=ContactFactory(display_name="Old Timer", phone="+14155550955"))
        MessageFactory(conversation=old, text="my warranty claim")
        for minutes in range(12):
            MessageFactory(conversation=conversation_at(minutes), text="nothing to see")
        assert ids(agent_client.get(LIST_URL, {"q": "warranty"})) == [old.pk]

    def test_common_match_pages_in_order_without_repeats(self, agent_client, monkeypatch):
        from conversations.selectors import search

        monkeypatch.setattr(search, "SEARCH_WINDOW", 4)
        made = []
        for minutes in range(11):
            conversation = conversation_at(minutes)
            MessageFactory(conversation=conversation, text="refund please" if minutes % 3 else "hello")
            made.append(conversation)
        expected = [c.pk for minutes, c in enumerate(made) if minutes % 3]
        seen, cursor = [], None
        while True:
            response = agent_client.get(LIST_URL, {"q": "refund", "limit": 2, **({"cursor": cursor} if cursor else {})})
            seen += ids(response)
            cursor = response.json()["next_cursor"]
            if not cursor:
                break
        assert seen == expected
