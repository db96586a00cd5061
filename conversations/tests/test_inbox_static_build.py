"""The inbox's ES modules as production serves them: collected by `collectstatic` with hashed
names (their imports rewritten to the hashed names too) and served by WhiteNoise with DEBUG off."""

import json
import os
import posixpath
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from conversations.tests.live_server import LiveServer, database_url_for_current_connection
from conversations.tests.browser import Pages
from conversations.tests.test_inbox_browser import row, whatsapp_conversation

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

MODULE_IMPORT = re.compile(r"""^(?:import|export)\b[^;]*?\bfrom\s*"(\.[^"]+)";""", re.M)
STATIC_DIR = Path(settings.BASE_DIR) / "static"
HASHED_MODULE = re.compile(r"/static/.+\.[0-9a-f]{12}\.js$")

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "conversations.tests.debug_off_settings",
    "DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",  # plain http on the loopback
    "BEHIND_TLS_PROXY": "false",
    "SECURE_HSTS_SECONDS": "0",
}


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """`collectstatic` as a deployment runs it: DEBUG off, so with the production storage."""
    root = tmp_path_factory.mktemp("static_root")
    env = {**os.environ, **PRODUCTION_ENV, "PARLEY_TEST_STATIC_ROOT": str(root)}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=settings.BASE_DIR,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return root


def test_every_module_import_names_a_hashed_module_that_was_collected(collected):
    paths = json.loads((collected / "staticfiles.json").read_text())["paths"]
    modules = [name for name in paths if name.startswith("js/") and name.endswith(".js")]
    assert {"js/inbox.js", "js/dom.js", "js/dispatch.js", "js/composer.js"} <= set(modules)
    hashed = set(paths.values())
    imports = 0
    for name in modules:
        served = (collected / paths[name]).read_text()
        targets = MODULE_IMPORT.findall(served)
        assert len(targets) == len(MODULE_IMPORT.findall((STATIC_DIR / name).read_text())), name
        for target in targets:
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(paths[name]), target))
            assert resolved in hashed, f"{paths[name]} imports {target}, not a hashed module"
            assert (collected / resolved).is_file()
        imports += len(targets)
    assert imports >= 40  # the inbox's modules import each other some fifty times


@pytest.fixture(scope="module")
def production_server(browser, collected, django_db_setup, django_db_blocker, tmp_path_factory):
    """daphne with DEBUG off, serving the collected files through WhiteNoise (no finders)."""
    with django_db_blocker.unblock():
        database_url = database_url_for_current_connection()
    live = LiveServer(database_url=database_url, log_path=tmp_path_factory.mktemp("daphne") / "daphne.log",
                      extra_env={**PRODUCTION_ENV, "PARLEY_TEST_STATIC_ROOT": str(collected)})
    yield live
    live.stop()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_inbox_runs_from_hashed_modules_with_debug_off(browser, production_server, agent):
    conversation = whatsapp_conversation()
    pages = Pages(browser, production_server)
    try:
        page = pages.open(agent, path=None)
        scripts = []
        page.on("response", lambda response: response.request.resource_type == "script" and scripts.append(response))
        page.goto(f"{production_server.url}/inbox/{conversation.pk}/")
        expect(page.locator("#connection")).to_have_text("Live")
        expect(page.locator("#message-list .msg-text")).to_have_text(["Hi, where is my order?"])
        expect(row(page, conversation.pk)).to_contain_text("Dana Whitfield")
        urls = sorted(response.url for response in scripts)
        assert len(urls) >= 15, urls  # the entry point and every module it imports
        assert all(HASHED_MODULE.search(url) for url in urls), urls
        for response in scripts:
            assert response.status == 200
            assert "immutable" in response.headers["cache-control"]  # a hashed name never changes content
        pages.check()
    finally:
        pages.close()


@pytest.mark.parametrize("path", sorted(STATIC_DIR.glob("js/*.js")) + sorted((STATIC_DIR.parent / "simulator" / "static").glob("**/*.js")),
                         ids=lambda path: path.name)
def test_no_module_builds_html_from_strings(path):
    code = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)  # header comments name what is banned
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert banned not in code, banned


@pytest.mark.parametrize("path", sorted(STATIC_DIR.glob("js/*.js")), ids=lambda path: path.name)
def test_no_comment_says_import_or_export(path):
    """Django's hashed storage finds imports with a regular expression that also reads comments: the
    word "export" or "import" in a comment above an import makes `collectstatic` fail (MissingFileError)."""
    for comment in re.findall(r"/\*.*?\*/|//[^\n]*", path.read_text(), flags=re.S):
        assert not re.search(r"\b(import|export)[\s{]", comment), f"{path.name}: reword this comment: {comment[:80]}"
