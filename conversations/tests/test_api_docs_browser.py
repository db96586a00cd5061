"""The interactive API docs render in Chromium under the site's CSP, with a clean console."""

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_renders_without_a_csp_violation(pages, agent):
    page = pages.open(agent, path="/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Parley API")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/messages/").first).to_be_visible()
    pages.check()
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # the served page rules applied
