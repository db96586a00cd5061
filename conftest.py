"""Fixtures shared by every app's tests: users in their roles, API clients, the fake Plivo
API and a real Chromium."""

import os
import time

import pytest
from django.contrib.auth.models import Group

from conversations.permissions import AGENTS_GROUP
from conversations.tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hashing a password the production way costs about a second here; tests that log in
    through a separate server process set a real password themselves."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _flush_survives_a_deadlock():
    """Transactional tests empty the database with TRUNCATE after each test. On PostgreSQL a
    server process a browser test started may still be writing (a late delivery report, a
    worker chore), and the deadlock detector may pick the TRUNCATE: then flush again."""
    from django.db import OperationalError
    from django.test import TransactionTestCase

    flush = TransactionTestCase._fixture_teardown

    def flush_again_after_a_deadlock(self):
        for attempt in range(1, 4):
            try:
                return flush(self)
            except OperationalError as error:
                if getattr(error.__cause__, "sqlstate", None) != "40P01" or attempt == 3:
                    raise
                time.sleep(0.5 * attempt)

    TransactionTestCase._fixture_teardown = flush_again_after_a_deadlock
    yield
    TransactionTestCase._fixture_teardown = flush


@pytest.fixture(autouse=True)
def _media_outside_the_checkout(settings, tmp_path_factory):
    """What a test stores (an upload, a downloaded picture) goes to a folder of its own, never
    to the checkout's media/ (schemathesis posts files to the attachments endpoint)."""
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))


@pytest.fixture
def agents_group(db):
    return Group.objects.get_or_create(name=AGENTS_GROUP)[0]


@pytest.fixture
def agent(agents_group):
    user = UserFactory(username="alice", first_name="Alice")
    user.groups.add(agents_group)
    return user


@pytest.fixture
def other_agent(agents_group):
    user = UserFactory(username="bob", first_name="Bob")
    user.groups.add(agents_group)
    return user


@pytest.fixture
def staff(db):
    return UserFactory(username="staff", is_staff=True, is_superuser=True)


@pytest.fixture
def outsider(db):
    """Logged in, but not an agent."""
    return UserFactory(username="mallory")


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def agent_client(api_client, agent):
    api_client.force_authenticate(agent)
    return api_client


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    if not settings.DATABASE_IS_POSTGRES:
        skip = pytest.mark.skip(reason="needs PostgreSQL: run with DATABASE_URL=postgres://...")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)
    if not settings.REDIS_URL:
        skip = pytest.mark.skip(reason="needs Redis: run with REDIS_URL=redis://...")
        for item in items:
            if "redis" in item.keywords:
                item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that ran against a server process (browser tests) shows the end of that
    server's log: the only place its errors go, and CI keeps nothing else."""
    report = yield
    if report.failed:
        from conversations.tests.live_server import LiveServer

        for server in list(LiveServer.running):
            report.sections.append((f"server log {server.url} (last lines)", server.log_tail()))
    return report


@pytest.fixture(scope="session")
def _fake_plivo_server():
    from django.conf import settings

    from simulator.fake_plivo import FakePlivoAPI, FakePlivoServer

    api = FakePlivoAPI(auth_id=settings.PLIVO_AUTH_ID, auth_token=settings.PLIVO_AUTH_TOKEN, auto_report=False)
    with FakePlivoServer(api) as server:
        yield server


@pytest.fixture
def fake_plivo(_fake_plivo_server, settings):
    """The fake Plivo Message API on a real socket; the SDK is pointed at it via settings.

    Delivery reports are off by default: call `fake_plivo.report(uuid, status)` or set
    `fake_plivo.auto_report = True` (reports are posted to each message's `url`).
    """
    from conversations.outbound import pacing

    api = _fake_plivo_server.api
    api.reset()
    pacing.reset(database=False)  # no turn left waiting from an earlier test (the database's go with its rows)
    api.auto_report = False
    api.report_delays = (0.05, 0.1, 0.15, 0.2)
    settings.PLIVO_API_BASE_URL = _fake_plivo_server.base_url
    api.base_url = _fake_plivo_server.base_url
    yield api
    api.reset()


@pytest.fixture(scope="module")
def browser():
    """Real Chromium through Playwright. Missing Chromium fails the browser tests (`make test`
    installs it), rather than skipping them silently."""
    from playwright import sync_api

    from conversations.tests.browser import CHROMIUM, chromium_launch

    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed: run `make chromium` (apt-get install -y chromium)")
    # Playwright's sync API keeps an event loop on this thread; the ORM calls in browser tests
    # are plain test code, not async code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_api.sync_playwright().start()
    browser = chromium_launch(playwright)
    yield browser
    browser.close()
    playwright.stop()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
