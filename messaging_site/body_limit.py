"""Refuse an HTTP request body over DATA_UPLOAD_MAX_MEMORY_SIZE before Django reads it.

Django applies that limit only once its ASGI handler has copied the whole body into a
spooled file. A Content-Length over the limit is answered 413 here without reading a byte;
a body without one (chunked) is counted as it arrives and cut off at the limit. How early
that helps depends on the server: one that calls the application once the headers are in
and streams the body (uvicorn) need not read the body at all; daphne (Twisted) buffers the
whole body before it calls the application, so there only Django's copy and parse are saved
and the proxy in front must cap the size (README, "Running in production").
"""

import json

from django.conf import settings

from messaging_site.errors import error_body

ATTACHMENT_UPLOAD_PATH = "/api/v1/attachments/"
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class BodySizeLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if scope["type"] == "http" and scope.get("path") == ATTACHMENT_UPLOAD_PATH:
            # An attachment's own size is checked by its endpoint; this caps the whole body.
            limit = settings.ATTACHMENT_MAX_BYTES + MULTIPART_OVERHEAD_BYTES
        if scope["type"] != "http" or limit is None:
            return await self.app(scope, receive, send)
        length = _content_length(scope)
        if length is not None:
            if length > limit:
                return await _refuse(receive, send, limit)
            # The server delivers no more than Content-Length, so nothing to count.
            return await self.app(scope, receive, send)

        received = 0
        over_limit = response_started = False

        async def receive_counted():
            nonlocal received, over_limit
            if over_limit:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django's handler stops reading at a disconnect and answers nothing.
                    over_limit = True
                    return {"type": "http.disconnect"}
            return message

        async def send_tracked(message):
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, receive_counted, send_tracked)
        if over_limit and not response_started:
            await _refuse(receive, send, limit)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None


async def _refuse(receive, send, limit: int) -> None:
    body = json.dumps(error_body(f"The request body is larger than {limit} bytes.", code="body_too_large")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The unread rest of the body must not be taken for the next request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
    # Once the response is complete a streaming server (uvicorn) answers a disconnect at once,
    # so this reads nothing from the network; daphne has queued the whole body already, and
    # unread it stays in memory until its connection object is garbage-collected (measured:
    # four refused 50 MB posts in a row left the process 200 MB larger).
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
