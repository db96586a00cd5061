"""The one Playwright harness of the browser tests (and of the screenshot and latency scripts):
Debian's Chromium, the real ASGI app in daphne, and signed-in pages watched for CSP
violations, console errors, script errors and injected scripts.

`conversations/tests/conftest.py` offers `server` and `pages` to every test module there; a
module that needs another server (the simulator's) defines its own `server` with
`module_server`.
"""

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore

from conversations.tests.live_server import LiveServer, database_url_for_current_connection

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright cannot download its own browser here
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
WATCH_SCRIPT = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
window.__xss = 0;
"""


def chromium_launch(playwright):
    """Debian's Chromium, headless, through a started `sync_playwright()`."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def session_cookie(user, url: str) -> dict:
    """A cookie signing the browser in as `user` on the server at `url`, without the login form."""
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return {"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": url}


def module_server(django_db_blocker, tmp_path_factory, extra_env: dict | None = None) -> LiveServer:
    """daphne serving the test database, for the fixture of one test module."""
    with django_db_blocker.unblock():
        database_url = database_url_for_current_connection()
    log_path = tmp_path_factory.mktemp("daphne") / "daphne.log"
    return LiveServer(database_url=database_url, log_path=log_path, extra_env=extra_env)


class Pages:
    """Opens pages (signed in when given a user) and checks each for CSP violations and errors
    at the end. A line of `expected_problems` is a console error a test caused on purpose."""

    def __init__(self, browser, server):
        self.browser = browser
        self.server = server
        self.contexts = []
        self.pages = []
        self.problems = []
        self.expected_problems = []

    def open(self, user=None, path="/inbox/", viewport=(1280, 800), init_scripts=(), timezone_id=None):
        context = self.browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, timezone_id=timezone_id)
        context.add_init_script(WATCH_SCRIPT)
        for script in init_scripts:
            context.add_init_script(script)
        if user is not None:
            context.add_cookies([session_cookie(user, self.server.url)])
        page = context.new_page()
        page.set_default_timeout(5000)
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        self.contexts.append(context)
        self.pages.append(page)
        if path:
            page.goto(self.server.url + path)
        return page

    def _console(self, page, message):
        if message.type == "error" or "Content Security Policy" in message.text:
            # The one expected error: a socket the test cut on purpose.
            if "WebSocket" in message.text and getattr(page, "_socket_cut", False):
                return
            self.problems.append(f"console {message.type}: {message.text}")

    def check(self):
        for page in self.pages:
            if page.is_closed():
                continue
            violations = page.evaluate("window.__cspViolations")
            assert violations == [], f"CSP violations: {violations}"
            assert page.evaluate("window.__xss") == 0, "an injected script ran"
        assert [p for p in self.problems if not any(e in p for e in self.expected_problems)] == []

    def close(self):
        for context in self.contexts:
            context.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        """On leaving the test: check every page, then close them whatever the check found."""
        try:
            self.check()
        finally:
            self.close()


@pytest.fixture(scope="module")
def server(browser, django_db_setup, django_db_blocker, tmp_path_factory):
    live = module_server(django_db_blocker, tmp_path_factory)
    yield live
    live.stop()


@pytest.fixture
def pages(browser, server):
    with Pages(browser, server) as opened:
        yield opened
