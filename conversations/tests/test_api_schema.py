"""The OpenAPI schema is valid and documents the sending API; schemathesis finds no 500 in the API."""

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from conversations.tests.factories import MessageTemplateFactory
from conversations.tests.outbound_support import open_conversation

pytestmark = pytest.mark.django_db


def test_schema_validates_without_warnings(tmp_path):
    # --fail-on-warn: an undocumented field or an ambiguous name fails here, not in a client.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/messages/" in (tmp_path / "schema.yaml").read_text()


def test_sending_endpoints_document_their_errors_and_headers(api_client):
    schema = api_client.get("/api/v1/schema/?format=json").json()
    send = schema["paths"]["/api/v1/messages/"]["post"]
    assert set(send["responses"]) == {"202", "400", "401", "403", "409", "422", "429", "503"}
    assert "window_closed" in send["responses"]["422"]["description"]
    assert [p["name"] for p in send["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
    assert {"to", "channel"} <= set(schema["components"]["schemas"]["MessageSendInputRequest"]["required"])
    retry = schema["paths"]["/api/v1/messages/{id}/retry/"]["post"]
    assert {"202", "404", "409", "429"} <= set(retry["responses"])
    detail = schema["components"]["schemas"]["MessageDetail"]["properties"]
    assert {"status_history", "send_attempts", "unconfirmed"} <= set(detail)
    assert "/api/v1/templates/" in schema["paths"]


def test_interactive_docs_page_is_served(api_client):
    response = api_client.get("/api/v1/docs/")
    assert response.status_code == 200 and b"swagger" in response.content.lower()


@pytest.fixture
def wsgi_requests_keep_the_test_transaction():
    # As Django's test client does: requests must not close the test's open transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def agent_token(agents_group):
    cache.clear()  # a fresh send budget
    agent = get_user_model().objects.create(username="api-fuzzer")  # no password: no slow hashing per case
    agent.groups.add(agents_group)
    open_conversation(phone="+14155550123")
    MessageTemplateFactory(name="welcome", language="en_US", body="Hello {{1}}!")
    return Token.objects.create(user=agent).key


def _load_schema():
    from messaging_site.wsgi import application

    loaded = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
    # The coverage phase sends hundreds of boundary cases per operation; the fuzzing phase
    # (valid and invalid data, max_examples below) keeps this test well under a minute.
    loaded.config.phases.coverage.enabled = False
    return loaded


schema = _load_schema()


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_api_never_answers_500(case, agent_token, fake_plivo, wsgi_requests_keep_the_test_transaction):
    """Random valid and invalid requests, as a token-authenticated agent: never a server error."""
    response = case.call(headers={"Authorization": f"Token {agent_token}"})
    case.validate_response(response, checks=[not_a_server_error])
