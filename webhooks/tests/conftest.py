"""Signed Plivo requests for the webhook tests: signed with the SDK's own V3 code."""

import copy
import json
from pathlib import Path
from urllib.parse import urlencode

import pytest

from webhooks.signing import sign_v3
from webhooks.tests.support import receipts_apply_all

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT_TOKEN = "test-subaccount-auth-token-7d1e"
MAIN_TOKEN = "test-main-account-auth-token-93ab"
PUBLIC_BASE_URL = "https://parley.example.com"
MESSAGE_PATH = "/webhooks/plivo/message/"
STATUS_PATH = "/webhooks/plivo/status/"


def load_fixture(name: str) -> dict:
    """{"encoding": "form"|"json", "params": {...}} of a captured-shape Plivo payload."""
    return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))


@pytest.fixture(autouse=True)
def plivo_settings(settings):
    settings.PLIVO_AUTH_TOKEN = ACCOUNT_TOKEN
    settings.PLIVO_MAIN_AUTH_TOKEN = MAIN_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    settings.WEBHOOK_SIGNATURE_TALLY_FLUSH_SECONDS = 0  # count every request at once
    from webhooks import services

    services._pending.clear()
    services._written.clear()
    return settings


class PlivoWebhooks:
    """Posts payloads to the webhook views exactly as Plivo would send them, then (unless
    `apply=False`) lets a webhook worker apply what was received, as production does
    a few milliseconds later."""

    def __init__(self, client):
        self.client = client

    def post(self, path, params, *, encoding="form", headers=None, sign=True, token=ACCOUNT_TOKEN, signed_url=None,
             body_params=None, apply=True):
        """Sign `params` for `signed_url` (default: the public URL of `path`) and post
        `body_params` (default: the same params), so a test can tamper with what is sent."""
        if sign:
            signature = sign_v3(url=signed_url or PUBLIC_BASE_URL + path, params=params, auth_token=token)
            headers = {**signature, **(headers or {})}
        sent = params if body_params is None else body_params
        if encoding == "json":
            response = self.client.post(path, data=json.dumps(sent), content_type="application/json", headers=headers or {})
        else:
            response = self.client.post(
                path, data=urlencode(sent, doseq=True), content_type="application/x-www-form-urlencoded",
                headers=headers or {},
            )
        if apply and response.status_code == 200:
            receipts_apply_all()
        return response

    def inbound(self, fixture="sms", *, apply=True, **changes):
        data = load_fixture(fixture)
        _apply_changes(data["params"], changes)
        return self.post(MESSAGE_PATH, data["params"], encoding=data["encoding"], apply=apply)

    def status(self, *, ref=None, fixture="status_delivered", apply=True, **changes):
        data = load_fixture(fixture)
        _apply_changes(data["params"], changes)
        path = STATUS_PATH + (f"?ref={ref}" if ref is not None else "")
        return self.post(path, data["params"], encoding=data["encoding"], apply=apply)


def _apply_changes(params: dict, changes: dict) -> None:
    """Set fields (as strings, like a form) or remove those given as None."""
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value if isinstance(value, (dict, list)) else str(value)


@pytest.fixture
def webhooks(client):
    return PlivoWebhooks(client)


@pytest.fixture
def inbox_listener():
    """A channel in the inbox group; `drain()` returns what was pushed to it (call it once)."""
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from conversations.events import INBOX_GROUP

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(INBOX_GROUP, channel)

    async def _drain(timeout):
        received = []
        while True:
            try:
                received.append(await asyncio.wait_for(layer.receive(channel), timeout))
            except asyncio.TimeoutError:
                return received

    yield lambda timeout=0.5: async_to_sync(_drain)(timeout)
    async_to_sync(layer.group_discard)(INBOX_GROUP, channel)
