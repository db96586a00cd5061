"""POST /api/v1/conversations/bulk/: one change for many conversations, decided one by one."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations.models import Conversation, Label, Message
from conversations.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db

BULK = "/api/v1/conversations/bulk/"


def bulk(client, **body):
    return client.post(BULK, body, format="json")


def outcome(response) -> list[tuple[int, bool, str | None]]:
    return [(row["id"], row["ok"], row["error"] and row["error"]["code"]) for row in response.json()["results"]]


def test_resolving_several_changes_each_and_records_each(agent_client):
    conversations = ConversationFactory.create_batch(3)
    response = bulk(agent_client, ids=[c.pk for c in conversations], status="resolved")
    assert response.status_code == 200
    assert outcome(response) == [(c.pk, True, None) for c in conversations]
    assert [row["conversation"]["status"] for row in response.json()["results"]] == ["resolved"] * 3
    assert set(Conversation.objects.values_list("status", flat=True)) == {"resolved"}
    assert Message.objects.filter(kind="activity", text="Resolved by Alice").count() == 3


def test_the_assignment_rule_decides_each_and_a_refusal_stops_no_other(agent_client, agent, other_agent):
    free, colleagues, mine = ConversationFactory(), ConversationFactory(assignee=other_agent), ConversationFactory(assignee=agent)
    response = bulk(agent_client, ids=[free.pk, colleagues.pk, mine.pk], assignee_id=agent.pk, status="resolved")
    assert response.status_code == 200
    assert outcome(response) == [(free.pk, True, None), (colleagues.pk, False, "assigned_to_colleague"), (mine.pk, True, None)]
    refusal = response.json()["results"][1]["error"]
    assert refusal["status"] == 403 and refusal["field"] == "assignee_id" and response.json()["results"][1]["conversation"] is None
    colleagues.refresh_from_db()
    # All or nothing for each one: the refused conversation is not resolved either.
    assert (colleagues.assignee, colleagues.status) == (other_agent, "open")
    assert Conversation.objects.get(pk=free.pk).assignee == agent


def test_a_colleagues_conversation_cannot_be_unassigned_in_bulk_but_staff_may(api_client, agent, other_agent, staff):
    colleagues = ConversationFactory(assignee=other_agent)
    api_client.force_authenticate(agent)
    assert outcome(bulk(api_client, ids=[colleagues.pk], assignee_id=None)) == [(colleagues.pk, False, "assigned_to_colleague")]
    api_client.force_authenticate(staff)
    assert outcome(bulk(api_client, ids=[colleagues.pk], assignee_id=None)) == [(colleagues.pk, True, None)]
    assert Conversation.objects.get(pk=colleagues.pk).assignee is None


def test_an_unknown_id_is_reported_and_repeats_are_done_once(agent_client):
    conversation = ConversationFactory()
    response = bulk(agent_client, ids=[conversation.pk, 999999, conversation.pk], status="pending")
    assert outcome(response) == [(conversation.pk, True, None), (999999, False, "not_found")]
    assert Message.objects.filter(kind="activity").count() == 1


def test_snoozing_several_until_one_time(agent_client):
    conversations = ConversationFactory.create_batch(2)
    until = timezone.now() + timedelta(days=1)
    response = bulk(agent_client, ids=[c.pk for c in conversations], status="snoozed", snoozed_until=until.isoformat())
    assert [ok for _, ok, _ in outcome(response)] == [True, True]
    assert list(Conversation.objects.values_list("status", "snoozed_until")) == [("snoozed", until)] * 2


def test_labels_are_added_and_taken_off_keeping_the_others(agent_client):
    billing, vip, urgent = (Label.objects.create(name=name) for name in ("billing", "vip", "urgent"))
    tagged, plain = ConversationFactory(), ConversationFactory()
    tagged.labels.add(vip, urgent)

    response = bulk(agent_client, ids=[tagged.pk, plain.pk], labels_add=["Billing"], labels_remove=["urgent"])

    assert [ok for _, ok, _ in outcome(response)] == [True, True]
    assert sorted(tagged.labels.values_list("name", flat=True)) == ["billing", "vip"]
    assert list(plain.labels.values_list("name", flat=True)) == ["billing"]
    assert [sorted(label["name"] for label in row["conversation"]["labels"]) for row in response.json()["results"]] == [
        ["billing", "vip"], ["billing"]
    ]
    assert list(Message.objects.filter(kind="activity").order_by("conversation_id").values_list("text", flat=True)) == [
        "Labels: +billing \u2212urgent", "Labels: +billing"
    ]


def test_label_names_are_looked_up_once_for_the_whole_request(agent_client):
    Label.objects.create(name="billing")
    Label.objects.create(name="urgent")
    ids = [ConversationFactory().pk for _ in range(5)]

    with CaptureQueriesContext(connection) as queries:
        response = bulk(agent_client, ids=ids, labels_add=["billing"], labels_remove=["urgent"])

    assert [ok for _, ok, _ in outcome(response)] == [True] * 5
    by_name = [q["sql"] for q in queries.captured_queries if 'LOWER("conversations_label"."name") IN' in q["sql"]]
    assert len(by_name) == 2  # labels_add and labels_remove, not once per conversation


def test_a_refused_conversation_keeps_its_labels_too(agent_client, agent, other_agent):
    Label.objects.create(name="billing")
    colleagues = ConversationFactory(assignee=other_agent)

    response = bulk(agent_client, ids=[colleagues.pk], assignee_id=agent.pk, labels_add=["billing"])

    assert outcome(response) == [(colleagues.pk, False, "assigned_to_colleague")]
    assert not colleagues.labels.exists()


@pytest.mark.parametrize("body, status, field", [
    ({"labels_add": ["no-such-label"]}, 400, "labels_add"),
    ({"labels_remove": ["no-such-label"]}, 400, "labels_remove"),
    ({"status": "snoozed", "snoozed_until": "2001-01-01T00:00:00Z"}, 400, "snoozed_until"),
    ({"status": "snoozed"}, 400, "snoozed_until"),
    ({"snoozed_until": "2999-01-01T00:00:00Z"}, 400, "snoozed_until"),
    ({"status": "archived"}, 400, "status"),
    ({}, 400, None),
    ({"assignee_id": "outsider"}, 422, "assignee_id"),
])
def test_a_request_wrong_for_every_id_is_refused_as_a_whole(agent_client, outsider, body, status, field):
    conversations = ConversationFactory.create_batch(2)
    if body.get("assignee_id") == "outsider":
        body = {"assignee_id": outsider.pk}
    response = bulk(agent_client, ids=[c.pk for c in conversations], **body)
    assert response.status_code == status and response.json()["error"]["field"] == field
    assert set(Conversation.objects.values_list("status", "assignee")) == {("open", None)}
    assert not Message.objects.exists()


@pytest.mark.parametrize("ids", [[], list(range(1, 102)), ["x"], None])
def test_ids_must_be_a_list_of_at_most_a_hundred(agent_client, ids):
    response = agent_client.post(BULK, {"status": "resolved", **({} if ids is None else {"ids": ids})}, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"].startswith("ids")


def test_only_agents_may_use_it(api_client, outsider):
    conversation = ConversationFactory()
    assert api_client.post(BULK, {"ids": [conversation.pk], "status": "resolved"}, format="json").status_code in (401, 403)
    api_client.force_authenticate(outsider)
    assert api_client.post(BULK, {"ids": [conversation.pk], "status": "resolved"}, format="json").status_code == 403
    conversation.refresh_from_db()
    assert conversation.status == "open"

