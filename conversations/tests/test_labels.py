"""Labels: staff define them, agents set them on conversations, the inbox list filters by them."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from conversations.models import Conversation, InboxEvent, Label, Message
from conversations.serializers import ConversationSerializer
from conversations.services.labels import conversation_labels_change
from conversations.tests.factories import ContactFactory, MessageFactory
from conversations.tests.test_inbox_api import conversation_at
from messaging_site.errors import ApplicationError

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/conversations/"
LABELS_URL = "/api/v1/labels/"


@pytest.fixture
def billing():
    return Label.objects.create(name="billing", colour="#2563eb")


@pytest.fixture
def vip():
    return Label.objects.create(name="VIP", colour="#f59e0b")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def set_labels(client, conversation, names):
    return client.patch(f"{LIST_URL}{conversation.pk}/", {"labels": names}, format="json")


def label_names(conversation) -> list[str]:
    return sorted(conversation.labels.values_list("name", flat=True))


class TestWhoMayLabel:
    def test_anonymous_cannot_list_labels_or_set_them(self, api_client, billing):
        conversation = conversation_at(1)
        assert api_client.get(LABELS_URL).status_code in (401, 403)
        response = set_labels(api_client, conversation, ["billing"])
        assert response.status_code in (401, 403) and response.json()["error"]["code"] == "not_authenticated"
        assert label_names(conversation) == []

    def test_a_signed_in_non_agent_cannot_list_set_or_filter_by_labels(self, api_client, outsider, billing):
        conversation = conversation_at(1)
        conversation.labels.add(billing)
        api_client.force_authenticate(outsider)
        assert api_client.get(LABELS_URL).status_code == 403
        assert set_labels(api_client, conversation, []).status_code == 403
        assert api_client.get(LIST_URL, {"label": "billing"}).status_code == 403
        assert label_names(conversation) == ["billing"]
        assert not Message.objects.filter(kind="activity").exists()

    def test_agents_list_every_label_by_name(self, agent_client, billing, vip):
        Label.objects.create(name="angry", colour="#dc2626")
        response = agent_client.get(LABELS_URL)
        assert response.status_code == 200
        assert response.json() == [
            {"name": "angry", "colour": "#dc2626"},
            {"name": "billing", "colour": "#2563eb"},
            {"name": "VIP", "colour": "#f59e0b"},
        ]


class TestSettingLabels:
    def test_patch_sets_the_labels_by_name_in_any_case(self, agent_client, billing, vip):
        conversation = conversation_at(1)
        response = set_labels(agent_client, conversation, ["vip", "Billing", "billing"])
        assert response.status_code == 200
        assert response.json()["labels"] == [{"name": "billing", "colour": "#2563eb"}, {"name": "VIP", "colour": "#f59e0b"}]
        assert label_names(conversation) == ["VIP", "billing"]

    def test_each_change_is_an_activity_entry_in_the_thread(self, agent_client, agent, billing, vip):
        conversation = conversation_at(1)
        set_labels(agent_client, conversation, ["billing", "vip"])
        set_labels(agent_client, conversation, ["billing"])
        entries = list(Message.objects.filter(conversation=conversation, kind="activity").order_by("id"))
        assert [entry.text for entry in entries] == ["Labels: +billing +VIP", "Labels: \u2212VIP"]
        assert entries[1].structured == {"activity": {"action": "labelled", "added": [], "removed": ["VIP"]}}
        assert entries[1].sent_by == agent and entries[1].direction == "internal"
        conversation.refresh_from_db()
        assert conversation.last_message_id is None  # activity never becomes the preview

    def test_a_change_is_announced_live_with_the_labels(self, agent_client, billing):
        conversation = conversation_at(1)
        before = InboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        set_labels(agent_client, conversation, ["billing"])
        written = list(InboxEvent.objects.filter(id__gt=before).order_by("id"))
        assert [event.type for event in written] == ["message.created", "conversation.updated"]
        assert written[0].data["message"]["kind"] == "activity"
        for event in written:
            assert event.data["conversation"]["labels"] == [{"name": "billing", "colour": "#2563eb"}]

    def test_setting_the_same_labels_again_changes_and_announces_nothing(self, agent_client, billing):
        conversation = conversation_at(1)
        set_labels(agent_client, conversation, ["billing"])
        before = InboxEvent.objects.count()
        assert set_labels(agent_client, conversation, ["BILLING"]).status_code == 200
        assert InboxEvent.objects.count() == before
        assert Message.objects.filter(kind="activity").count() == 1

    def test_an_empty_list_removes_every_label(self, agent_client, billing, vip):
        conversation = conversation_at(1)
        conversation.labels.add(billing, vip)
        response = set_labels(agent_client, conversation, [])
        assert response.status_code == 200 and response.json()["labels"] == []
        assert Message.objects.get(kind="activity").text == "Labels: \u2212billing \u2212VIP"

    def test_an_unknown_label_is_a_400_naming_labels_and_changes_nothing(self, agent_client, billing):
        conversation = conversation_at(1)
        response = agent_client.patch(
            f"{LIST_URL}{conversation.pk}/", {"status": "resolved", "labels": ["billing", "refunds"]}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["error"] == {
            "message": 'No label is named "refunds"; staff add labels in the admin.',
            "field": "labels",
            "code": "unknown_label",
        }
        conversation.refresh_from_db()
        assert conversation.status == "open" and label_names(conversation) == []
        assert not Message.objects.filter(kind="activity").exists()

    @pytest.mark.parametrize("labels", ["billing", [""], [["billing"]], ["x" * 41], ["billing"] * 21])
    def test_a_malformed_labels_field_is_a_400_naming_it(self, agent_client, billing, labels):
        response = set_labels(agent_client, conversation_at(1), labels)
        assert response.status_code == 400
        assert response.json()["error"]["field"].split(".")[0] == "labels"

    def test_labels_and_status_change_together(self, agent_client, billing):
        conversation = conversation_at(1)
        response = agent_client.patch(f"{LIST_URL}{conversation.pk}/", {"status": "pending", "labels": ["billing"]}, format="json")
        assert response.status_code == 200
        assert response.json()["status"] == "pending" and response.json()["labels"][0]["name"] == "billing"

    def test_bulk_service_adds_and_removes_keeping_the_others(self, agent, billing, vip):
        angry = Label.objects.create(name="angry", colour="#dc2626")
        conversation = conversation_at(1)
        conversation.labels.add(billing, angry)
        conversation_labels_change(conversation=conversation, by=agent, add=["vip"], remove=["angry"])
        assert label_names(conversation) == ["VIP", "billing"]
        with pytest.raises(ApplicationError) as refused:
            conversation_labels_change(conversation=conversation, by=agent, remove=["nope"])
        assert refused.value.field == "labels_remove" and refused.value.status == 400


class TestLabelModel:
    def test_names_are_unique_ignoring_case(self, billing):
        with pytest.raises(IntegrityError), transaction.atomic():
            Label.objects.create(name="BILLING", colour="#000000")

    @pytest.mark.parametrize("fields", [{"name": "", "colour": "#000000"}, {"name": "red", "colour": "red"}, {"name": "x", "colour": "#ABCDEF"}])
    def test_the_database_refuses_a_blank_name_or_a_colour_not_in_lowercase_hex(self, fields):
        with pytest.raises(IntegrityError), transaction.atomic():
            Label.objects.create(**fields)

    def test_deleting_a_label_takes_it_off_its_conversations(self, billing):
        conversation = conversation_at(1)
        conversation.labels.add(billing)
        billing.delete()
        assert label_names(conversation) == []


class TestFilteringByLabel:
    def test_label_filter_narrows_the_list_and_its_counts(self, agent_client, agent, billing, vip):
        mine = conversation_at(1, assignee=agent)
        free = conversation_at(2)
        other = conversation_at(3)
        resolved = conversation_at(4, status="resolved")
        for conversation in (mine, free, resolved):
            conversation.labels.add(billing)
        other.labels.add(vip)
        response = agent_client.get(LIST_URL, {"status": "open", "label": "Billing"})
        assert ids(response) == [mine.pk, free.pk]
        assert response.json()["counts"] == {"mine": 1, "unassigned": 1, "all": 2}
        assert ids(agent_client.get(LIST_URL, {"status": "open", "label": "billing", "assignee": "none"})) == [free.pk]
        assert ids(agent_client.get(LIST_URL, {"status": "resolved", "label": "billing"})) == [resolved.pk]
        assert ids(agent_client.get(LIST_URL, {"label": "vip"})) == [other.pk]

    def test_label_filter_combines_with_search(self, agent_client, billing):
        refund_labelled = conversation_at(1, contact=ContactFactory(display_name="Zed"))
        refund_unlabelled = conversation_at(2, contact=ContactFactory(display_name="Yan"))
        plain_labelled = conversation_at(3, contact=ContactFactory(display_name="Xia"))
        MessageFactory(conversation=refund_labelled, text="I want a refund")
        MessageFactory(conversation=refund_unlabelled, text="refund please")
        MessageFactory(conversation=plain_labelled, text="hello")
        refund_labelled.labels.add(billing)
        plain_labelled.labels.add(billing)
        assert ids(agent_client.get(LIST_URL, {"label": "billing", "q": "refund"})) == [refund_labelled.pk]

    def test_label_filter_pages_with_the_cursor(self, agent_client, billing):
        labelled = [conversation_at(minutes) for minutes in range(5)]
        conversation_at(10)
        for conversation in labelled:
            conversation.labels.add(billing)
        first = agent_client.get(LIST_URL, {"label": "billing", "limit": 3}).json()
        second = agent_client.get(LIST_URL, {"label": "billing", "limit": 3, "cursor": first["next_cursor"]}).json()
        assert [row["id"] for row in first["results"] + second["results"]] == [c.pk for c in labelled]
        assert second["next_cursor"] is None

    def test_an_unknown_label_filter_is_a_400_naming_label(self, agent_client):
        response = agent_client.get(LIST_URL, {"label": "nope"})
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "label" and response.json()["error"]["code"] == "unknown_label"

    def test_list_rows_carry_their_labels_and_the_query_count_stays_flat(
        self, agent_client, agent, billing, vip, django_assert_max_num_queries
    ):
        def add(count, start):
            for minutes in range(start, start + count):
                conversation = conversation_at(minutes, assignee=agent)
                MessageFactory(conversation=conversation, text="a question")
                conversation.labels.add(billing, vip)

        def list_pages():
            with django_assert_max_num_queries(3):
                plain = agent_client.get(LIST_URL)
            with django_assert_max_num_queries(4):  # + finding the label
                filtered = agent_client.get(LIST_URL, {"label": "vip"})
            with django_assert_max_num_queries(11):  # the search's own routes, as without labels
                searched = agent_client.get(LIST_URL, {"label": "vip", "q": "question"})
            return [len(response.json()["results"]) for response in (plain, filtered, searched)], plain

        add(3, 0)
        assert list_pages()[0] == [3, 3, 3]
        add(27, 3)
        sizes, large = list_pages()
        assert sizes == [30, 30, 30]
        expected = [{"name": "billing", "colour": "#2563eb"}, {"name": "VIP", "colour": "#f59e0b"}]
        assert all(row["labels"] == expected for row in large.json()["results"])


class TestWireShape:
    def test_every_way_of_loading_a_conversation_gives_the_same_labels(self, billing, vip):
        from rest_framework import serializers as drf

        from conversations import selectors
        from conversations.sql_reads import conversation_for_sender

        conversation = conversation_at(1, contact=ContactFactory(phone="+14155550777"), channel="sms")
        conversation.labels.add(vip, billing)
        expected = [{"name": "billing", "colour": "#2563eb"}, {"name": "VIP", "colour": "#f59e0b"}]
        annotated = selectors.with_label_summaries(Conversation.objects.select_related("contact")).get(pk=conversation.pk)
        by_sender = conversation_for_sender(phone="+14155550777", channel="sms")
        plain = Conversation.objects.get(pk=conversation.pk)
        for loaded in (annotated, by_sender, plain):
            assert ConversationSerializer(loaded).data["labels"] == expected
            assert drf.ModelSerializer.to_representation(ConversationSerializer(), loaded) == ConversationSerializer(loaded).data
        unlabelled = conversation_at(2)
        assert ConversationSerializer(selectors.with_label_summaries(Conversation.objects).get(pk=unlabelled.pk)).data["labels"] == []

    def test_a_label_name_is_data_not_markup(self, agent_client):
        Label.objects.create(name='<img src=x onerror="alert(1)">', colour="#000000")
        conversation = conversation_at(1)
        response = set_labels(agent_client, conversation, ['<img src=x onerror="alert(1)">'])
        assert response.status_code == 200
        assert response.json()["labels"][0]["name"] == '<img src=x onerror="alert(1)">'


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_agents_labelling_one_conversation_at_once_record_one_change(agents_group):
    from conversations.services.conversations import conversation_update
    from conversations.tests.factories import UserFactory

    Label.objects.create(name="billing", colour="#2563eb")
    conversation = conversation_at(1)
    agents = [UserFactory(username=f"racer{n}") for n in range(4)]
    start = threading.Barrier(len(agents))
    errors = []

    def label_it(agent):
        try:
            start.wait(5)
            conversation_update(conversation=Conversation.objects.get(pk=conversation.pk), by=agent, labels=["billing"])
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=label_it, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert label_names(conversation) == ["billing"]
    assert Message.objects.filter(conversation=conversation, kind="activity").count() == 1


def test_staff_changes_to_a_label_reach_open_inboxes(django_capture_on_commit_callbacks):
    from conversations.models import InboxEvent

    with django_capture_on_commit_callbacks(execute=True):
        label = Label.objects.create(name="billing", colour="#2563eb")
    with django_capture_on_commit_callbacks(execute=True):
        label.name, label.colour = "Invoices", "#16a34a"
        label.save()
    with django_capture_on_commit_callbacks(execute=True):
        label.delete()

    assert [(e.type, e.data) for e in InboxEvent.objects.order_by("id")] == [
        ("labels.changed", {"label": {"name": "billing", "colour": "#2563eb"}, "previous_name": ""}),
        ("labels.changed", {"label": {"name": "Invoices", "colour": "#16a34a"}, "previous_name": "billing"}),
        ("labels.changed", {"label": None, "previous_name": "Invoices"}),
    ]
