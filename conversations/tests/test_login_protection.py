"""Password guessing: after a few wrong passwords a username is locked out from that address."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's
LOGIN = "/accounts/login/"


def sign_in(client, username, password, *, address="203.0.113.7", path=LOGIN, **headers):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def guess_wrong(client, username, times, **kwargs):
    """`times` wrong passwords: the form again each time, the lockout page on the last at the limit."""
    for attempt in range(times):
        response = sign_in(client, username, f"guess-{attempt}", **kwargs)
        assert "_auth_user_id" not in client.session
        assert response.status_code == (429 if attempt + 1 >= settings.AXES_FAILURE_LIMIT else 200)


def test_the_right_password_is_refused_once_the_limit_is_reached(client, agent, settings):
    guess_wrong(client, "alice", settings.AXES_FAILURE_LIMIT)
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/inbox/").status_code == 302  # still signed out


def test_the_admin_sign_in_shares_the_lock(client, staff, settings):
    guess_wrong(client, "staff", settings.AXES_FAILURE_LIMIT)
    response = sign_in(client, "staff", PASSWORD, path="/admin/login/?next=/admin/")
    assert response.status_code == 429 and "_auth_user_id" not in client.session


def test_a_rotating_forwarded_for_header_does_not_dodge_the_lock(client, agent, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "alice", f"guess-{attempt}", HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}")
    assert sign_in(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429


def test_the_agent_can_still_sign_in_from_another_address(client, agent, settings):
    guess_wrong(client, "alice", settings.AXES_FAILURE_LIMIT, address="203.0.113.7")
    response = sign_in(client, "alice", PASSWORD, address="192.0.2.10")
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(agent.pk)


def test_a_successful_sign_in_starts_the_count_again(client, agent, settings):
    guess_wrong(client, "alice", settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    guess_wrong(client, "alice", settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(client, "alice", PASSWORD).status_code == 302
