"""Canned replies: staff write them, agents search them from the composer, placeholders are filled."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from conversations.models import CannedReply
from conversations.tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/canned-replies/"


@pytest.fixture
def replies():
    return [
        CannedReply.objects.create(shortcut="refund", title="Refund policy", text="Hi {{contact.name}}, refunds take 5 days."),
        CannedReply.objects.create(shortcut="hours", title="Opening hours", text="We are open 9-17. {{agent.name}}"),
        CannedReply.objects.create(shortcut="thanks", title="Thank you", text="Thanks! Ask about a refund any time."),
        CannedReply.objects.create(shortcut="callback", title="Refund call", text="We will call {{contact.phone}}."),
    ]


def shortcuts(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["shortcut"] for row in response.json()]


class TestWhoMaySearch:
    def test_anonymous_is_refused(self, api_client, replies):
        response = api_client.get(URL)
        assert response.status_code in (401, 403) and response.json()["error"]["code"] == "not_authenticated"

    def test_a_signed_in_non_agent_is_refused(self, api_client, outsider, replies):
        api_client.force_authenticate(outsider)
        assert api_client.get(URL, {"q": "refund"}).status_code == 403


class TestSearch:
    def test_without_a_query_every_reply_by_shortcut(self, agent_client, replies):
        assert shortcuts(agent_client.get(URL)) == ["callback", "hours", "refund", "thanks"]

    def test_query_matches_shortcut_title_or_text_shortcut_matches_first(self, agent_client, replies):
        # "refund": the shortcut starts with it, then a title that does, then a text containing it.
        assert shortcuts(agent_client.get(URL, {"q": "REFUND"})) == ["refund", "callback", "thanks"]
        assert shortcuts(agent_client.get(URL, {"q": "open"})) == ["hours"]
        assert shortcuts(agent_client.get(URL, {"q": "/hou"})) == ["hours"]  # as typed after the slash
        assert shortcuts(agent_client.get(URL, {"q": "nothing like it"})) == []

    def test_limit_caps_the_answer(self, agent_client, replies):
        assert len(agent_client.get(URL, {"limit": 2}).json()) == 2
        assert agent_client.get(URL, {"limit": 0}).json()["error"]["field"] == "limit"

    def test_without_a_conversation_nothing_is_filled(self, agent_client, replies):
        row = agent_client.get(URL, {"q": "refund"}).json()[0]
        assert row == {
            "id": replies[0].pk,
            "shortcut": "refund",
            "title": "Refund policy",
            "text": "Hi {{contact.name}}, refunds take 5 days.",
            "filled_text": None,
        }


class TestPlaceholders:
    def test_placeholders_are_filled_for_the_conversation_and_the_agent(self, agent_client, agent, replies):
        agent.last_name = "Smith"
        agent.save()
        conversation = ConversationFactory(contact=ContactFactory(display_name="Maria Garcia", phone="+14155550142"))
        filled = {
            row["shortcut"]: row["filled_text"]
            for row in agent_client.get(URL, {"conversation_id": conversation.pk}).json()
        }
        assert filled["refund"] == "Hi Maria Garcia, refunds take 5 days."
        assert filled["hours"] == "We are open 9-17. Alice Smith"
        assert filled["callback"] == "We will call +14155550142."

    def test_an_unknown_contact_name_reads_naturally(self, agent_client, replies):
        conversation = ConversationFactory(contact=ContactFactory(display_name="  "))
        row = agent_client.get(URL, {"q": "refund", "conversation_id": conversation.pk}).json()[0]
        assert row["filled_text"] == "Hi there, refunds take 5 days."

    def test_an_unknown_conversation_is_a_400_naming_it(self, agent_client, replies):
        response = agent_client.get(URL, {"conversation_id": 999999})
        assert response.status_code == 400 and response.json()["error"]["field"] == "conversation_id"

    def test_spaces_inside_the_braces_and_other_braces(self, agent):
        reply = CannedReply(shortcut="x", title="x", text="Hi {{ contact.name }} {not} {{agent.name}}")
        assert reply.fill(contact=ContactFactory(display_name="Li"), agent=agent) == "Hi Li {not} Alice"

    def test_an_unknown_placeholder_is_refused_on_save_in_the_admin(self):
        reply = CannedReply(shortcut="oops", title="Oops", text="Hi {{contact.email}} and {{customer}}")
        with pytest.raises(ValidationError) as refused:
            reply.full_clean()
        message = " ".join(refused.value.message_dict["text"])
        assert "{{contact.email}}" in message and "{{customer}}" in message and "{{contact.name}}" in message


class TestModel:
    def test_shortcuts_are_unique(self, replies):
        with pytest.raises(IntegrityError), transaction.atomic():
            CannedReply.objects.create(shortcut="refund", title="Again", text="x")

    @pytest.mark.parametrize("shortcut", ["", "Refund", "two words", "-dash-first"])
    def test_the_database_refuses_a_shortcut_that_is_not_a_lowercase_slug(self, shortcut):
        with pytest.raises(IntegrityError), transaction.atomic():
            CannedReply.objects.create(shortcut=shortcut, title="x", text="x")

    def test_validation_explains_the_shortcut_format(self):
        with pytest.raises(ValidationError) as refused:
            CannedReply(shortcut="Refund", title="x", text="x").full_clean()
        assert refused.value.message_dict["shortcut"] == ["Lowercase letters, digits, - and _ only, such as refund-policy."]
