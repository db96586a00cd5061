"""The inbox page and the sign-in pages: access, the CSP, and no inline code anywhere."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings

from conversations import events
from conversations.tests.factories import ConversationFactory, UserFactory
from conversations.tests.support import broadcast

pytestmark = pytest.mark.django_db

STATIC = Path(settings.BASE_DIR) / "static"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Hashing a password the production way takes a second or two on a busy CI machine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class InlineCodeFinder(HTMLParser):
    """Collects everything a strict CSP would block: inline scripts, styles and handlers."""

    def __init__(self):
        super().__init__()
        self.problems = []
        self.scripts = []
        self._in_script = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name == "style":
                self.problems.append(f"<{tag} style=...>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            self.scripts.append(attrs)
            self._in_script = attrs

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None

    def handle_data(self, data):
        if self._in_script is not None and data.strip():
            if self._in_script.get("type") != "application/json":
                self.problems.append("inline <script> with code")


def inline_code_in(html: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.problems


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/inbox/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/inbox/")


def test_signed_in_non_agent_gets_403_that_explains(client, outsider):
    client.force_login(outsider)
    response = client.get("/inbox/")
    assert response.status_code == 403
    assert "Only Parley agents can use the inbox" in response.content.decode()
    assert inline_code_in(response.content.decode()) == []


def test_agent_gets_the_page_with_its_starting_cursor(client, agent):
    head = broadcast(events.conversation_updated_event(ConversationFactory())).id
    client.force_login(agent)
    response = client.get("/inbox/")
    assert response.status_code == 200
    match = re.search(r'<script id="inbox-bootstrap" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    bootstrap = json.loads(match.group(1))
    assert bootstrap["event_cursor"] == head
    assert bootstrap["user"] == {"id": agent.pk, "username": "alice", "name": "Alice", "is_staff": False}


def test_deep_link_to_a_conversation_opens_it(client, agent):
    client.force_login(agent)
    response = client.get("/inbox/42/")
    assert response.status_code == 200
    assert '"conversation_id": 42' in response.content.decode()


@pytest.mark.parametrize("url", ["/inbox/", "/accounts/login/"])
def test_csp_header_is_strict(client, agent, url):
    if url == "/inbox/":
        client.force_login(agent)
    policy = client.get(url)["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_pages_have_no_inline_code(client, agent):
    login = client.get("/accounts/login/").content.decode()
    client.force_login(agent)
    inbox = client.get("/inbox/").content.decode()
    assert inline_code_in(login) == []
    assert inline_code_in(inbox) == []
    assert inline_code_in(client.get("/admin/").content.decode()) == []


def test_hostile_agent_name_cannot_break_out_of_the_bootstrap_data(client, agents_group):
    hostile = UserFactory(username="eve", first_name='</script><script>alert("x")</script>')
    hostile.groups.add(agents_group)
    client.force_login(hostile)
    html = client.get("/inbox/").content.decode()
    assert "<script>alert" not in html
    assert inline_code_in(html) == []


def test_the_script_never_builds_html_from_strings():
    source = (STATIC / "js" / "inbox.js").read_text()
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)  # the header comment names what is banned
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert banned not in code, banned


def test_static_files_are_served(client):
    for path in ("/static/js/inbox.js", "/static/css/inbox.css"):
        response = client.get(path)
        assert response.status_code == 200, path


def test_sign_in_and_sign_out_round_trip(client, agent):
    response = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery staple"})
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    assert client.get("/inbox/").status_code == 200
    assert client.get("/accounts/logout/").status_code == 405  # logging out takes a POST (CSRF-protected)
    response = client.post("/accounts/logout/", follow=True)
    assert "signed out" in response.content.decode()
    assert client.get("/inbox/").status_code == 302


def test_wrong_password_says_so(client, agent):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_session_cookie_is_http_only(client, agent):
    response = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery staple"})
    assert response.cookies[settings.SESSION_COOKIE_NAME]["httponly"]
