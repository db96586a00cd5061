"""Cross-site WebSocket hijacking: only the site's own origin (scheme, host and port) may open
the inbox socket with an agent's cookie."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from conversations.tests.test_consumers import session_cookie_for
from messaging_site.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def connects(agent, *, origin: str | None, host: str = "localhost:8000", scheme: str = "ws", extra=()) -> bool:
    headers = [(b"host", host.encode()), (b"cookie", await sync_to_async(session_cookie_for)(agent)), *extra]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    communicator = WebsocketCommunicator(application, "/ws/inbox/", headers=headers)
    communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect(timeout=3)
    await communicator.disconnect()
    return connected


async def test_the_sites_own_origin_connects(agent):
    assert await connects(agent, origin="http://localhost:8000")


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:9999",  # another local server on the same host name
        "https://localhost:8000",  # same host and port, other scheme
        "http://localhost",  # same host, default port
        "http://evil.example:8000",
        "null",  # sandboxed iframes and file:// pages
    ],
)
async def test_an_origin_differing_in_scheme_host_or_port_is_refused(agent, origin):
    assert not await connects(agent, origin=origin)


async def test_a_socket_without_origin_is_refused(agent):
    assert not await connects(agent, origin=None)


async def test_a_host_we_do_not_serve_is_refused_even_when_origin_matches_it(agent):
    assert not await connects(agent, origin="http://evil.example:8000", host="evil.example:8000")


async def test_behind_the_tls_proxy_the_forwarded_scheme_decides(agent, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    forwarded = ((b"x-forwarded-proto", b"https"),)
    assert await connects(agent, origin="https://localhost:8000", extra=forwarded)
    assert not await connects(agent, origin="http://localhost:8000", extra=forwarded)


async def test_public_base_url_and_csrf_trusted_origins_are_allowed(agent, settings):
    settings.PUBLIC_BASE_URL = "https://parley.example.com"
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.support.example.com"]
    assert await connects(agent, origin="https://parley.example.com")
    assert await connects(agent, origin="https://eu.support.example.com")
    assert not await connects(agent, origin="https://eu.support.example.com:8443")
    assert not await connects(agent, origin="http://parley.example.com")
