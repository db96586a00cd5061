"""Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE are refused at the ASGI layer, before Django reads them."""

import json

import pytest
import requests
from asgiref.testing import ApplicationCommunicator
from django.core.asgi import get_asgi_application

from conversations.tests.live_server import LiveServer, database_url_for_current_connection
from messaging_site.body_limit import BodySizeLimit
from webhooks.tests.conftest import MESSAGE_PATH

LIMIT = 1000


@pytest.fixture
def small_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    return LIMIT


def http_scope(path, headers=()):
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 1), "server": ("testserver", 80),
    }


async def call(app, scope, chunks, *, then_disconnect=False):
    """Run `app` with the body `chunks` already queued (as daphne does); (status, headers, body,
    how many input messages are left unread)."""
    communicator = ApplicationCommunicator(app, scope)
    for index, chunk in enumerate(chunks):
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1})
    start = await communicator.receive_output(5)
    body = b""
    while True:
        message = await communicator.receive_output(5)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if then_disconnect:
        await communicator.send_input({"type": "http.disconnect"})
    await communicator.wait(5)
    return start["status"], dict(start["headers"]), body, communicator.input_queue.qsize()


def assert_too_large(status, headers, body):
    assert status == 413
    assert headers[b"content-type"] == b"application/json" and headers[b"connection"] == b"close"
    assert json.loads(body) == {"error": {"message": f"The request body is larger than {LIMIT} bytes.", "field": None,
                                          "code": "body_too_large"}}


def counting(app):
    """`app`, recording how many body bytes it was handed."""
    seen = []

    async def wrapped(scope, receive, send):
        async def receive_recorded():
            message = await receive()
            seen.append(len(message.get("body", b"")))
            return message
        await app(scope, receive_recorded, send)

    wrapped.bytes_seen = lambda: sum(seen)
    wrapped.calls = seen
    return wrapped


@pytest.mark.asyncio
async def test_a_content_length_over_the_limit_is_answered_before_any_body_arrives(small_limit):
    django = counting(get_asgi_application())
    scope = http_scope("/accounts/login/", [(b"content-length", str(50 * 2**20).encode())])
    # No body sent: the answer comes from the headers alone (uvicorn's case). After the
    # response a streaming server reports a disconnect, which ends the guard's drain.
    status, headers, body, unread = await call(BodySizeLimit(django), scope, [], then_disconnect=True)
    assert_too_large(status, headers, body)
    assert django.calls == [] and unread == 0


@pytest.mark.asyncio
async def test_a_body_the_server_already_queued_is_dropped_once_refused(small_limit):
    # daphne's case: the whole body waits in the application's input queue; left there it
    # lives until the connection object is garbage-collected.
    django = counting(get_asgi_application())
    scope = http_scope("/accounts/login/", [(b"content-length", str(LIMIT * 5).encode())])
    status, headers, body, unread = await call(BodySizeLimit(django), scope, [b"x" * LIMIT] * 5)
    assert_too_large(status, headers, body)
    assert django.calls == [] and unread == 0


@pytest.mark.asyncio
async def test_a_chunked_body_is_cut_off_at_the_limit_and_django_never_answers(small_limit):
    # The login page parses the form for its CSRF check: without the limit here Django would
    # read the whole body and answer its own HTML 400.
    django = counting(get_asgi_application())
    scope = http_scope("/accounts/login/", [(b"content-type", b"application/x-www-form-urlencoded")])
    status, headers, body, unread = await call(BodySizeLimit(django), scope, [b"a" * 400] * 10)
    assert_too_large(status, headers, body)
    assert django.bytes_seen() == 800  # the chunk that went over the limit was not handed on
    assert unread == 0


@pytest.mark.asyncio
async def test_a_body_within_the_limit_reaches_django(small_limit):
    app = BodySizeLimit(get_asgi_application())
    body = b"From=14155550123&Text=" + b"x" * (LIMIT - 100)
    for headers in ([(b"content-length", str(len(body)).encode())], []):
        scope = http_scope(MESSAGE_PATH, [(b"content-type", b"application/x-www-form-urlencoded"), *headers])
        status, _, answer, _ = await call(app, scope, [body[:500], body[500:]])
        assert status == 403 and json.loads(answer)["error"]["code"] == "invalid_signature"


@pytest.fixture(scope="module")
def daphne(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        url = database_url_for_current_connection()
    live = LiveServer(database_url=url, log_path=tmp_path_factory.mktemp("daphne") / "daphne.log",
                      extra_env={"DATA_UPLOAD_MAX_MEMORY_SIZE": str(LIMIT), "WEBHOOK_WORKER_EMBEDDED": "false"})
    yield live
    live.stop()


class TestUnderDaphne:
    """The guard in messaging_site.asgi, as production serves it."""

    def test_an_oversized_post_gets_the_json_413(self, daphne):
        response = requests.post(daphne.url + "/accounts/login/", data={"username": "x" * LIMIT}, timeout=10)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "body_too_large"

    def test_an_oversized_chunked_post_gets_the_json_413(self, daphne):
        response = requests.post(daphne.url + "/accounts/login/", data=iter([b"x" * 600] * 4), timeout=10,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.request.headers.get("Transfer-Encoding") == "chunked"
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "body_too_large"
