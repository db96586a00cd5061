"""The REST API during a database outage: JSON 503 with Retry-After, never Django's HTML 500."""

import pytest

from conversations.tests.factories import ConversationFactory
from conversations.tests.outage import database_unreachable

pytestmark = pytest.mark.django_db(transaction=True)


def assert_database_unavailable(response):
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "database_unavailable"
    assert int(response["Retry-After"]) > 0
    assert b"Traceback" not in response.content


def test_a_read_answers_json_503_while_the_database_is_down(agent_client, caplog):
    ConversationFactory()
    with database_unreachable():
        assert_database_unavailable(agent_client.get("/api/v1/conversations/"))
    assert "database unavailable" in caplog.text
    assert agent_client.get("/api/v1/conversations/").status_code == 200


def test_a_session_signed_in_agent_gets_json_503_too(client, agent):
    """The session itself lives in the database, so authentication is what fails first."""
    client.force_login(agent)
    with database_unreachable():
        assert_database_unavailable(client.get("/api/v1/conversations/"))


def test_a_send_answers_json_503_and_stores_nothing(agent_client):
    conversation = ConversationFactory()
    with database_unreachable():
        response = agent_client.post(
            f"/api/v1/conversations/{conversation.id}/messages/", {"text": "Hello"}, format="json"
        )
    assert_database_unavailable(response)
    assert conversation.messages.count() == 0
