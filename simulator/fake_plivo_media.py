"""The fake Plivo's Media API and media hosting, wired into `FakePlivoAPI` (fake_plivo.py).

- `POST /v1/Account/{auth_id}/Media/` (multipart, one `file` part per file, as the SDK's
  `client.media.upload` sends it) stores the files and answers 202 with one item per file
  under `objects`, in Plivo's shape (`media_id`, `media_url`, `content_type`, `file_name`,
  `size`, `status`, `status_code`, `upload_time`).
- `GET /v1/Account/{auth_id}/Media/{media_id}/` answers one item; `GET .../Media/` lists them
  (`limit` 1..20, `offset`) with Plivo's `meta`.
- `GET /Account/{auth_id}/Message/{uuid}/Media/{media_id}` serves a file, behind the account's
  basic auth and without a file extension, like the media URLs Plivo puts in inbound
  webhooks; the customer phone's pictures are served from here.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs

MEDIA_API_PATH = re.compile(r"^/v1/Account/(?P<auth_id>[^/]+)/Media/(?:(?P<media_id>[^/]+)/)?$")
MEDIA_FILE_PATH = re.compile(r"^/Account/(?P<auth_id>[^/]+)/Message/(?P<uuid>[^/]+)/Media/(?P<media_id>[^/]+)/?$")
UPLOAD_MAX_BYTES = 100 * 1024 * 1024  # the largest file a channel takes (a WhatsApp document)


@dataclass
class RawBody:
    """An answer that is a file, not JSON."""

    data: bytes
    content_type: str


@dataclass
class FakeMedia:
    media_id: str
    file_name: str
    content_type: str
    data: bytes = field(repr=False)
    message_uuid: str = ""  # inbound media: the customer message it belongs to
    uploaded_at: float = field(default_factory=time.time)

    def as_plivo(self, api_base: str, auth_id: str) -> dict:
        return {
            "content_type": self.content_type,
            "file_name": self.file_name,
            "media_id": self.media_id,
            "media_url": f"{api_base}/v1/Account/{auth_id}/Media/{self.media_id}",
            "size": len(self.data),
            "status": "success",
            "status_code": 201,
            "upload_time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.uploaded_at)),
        }


class FakeMediaStore:
    """The account's media: what Parley uploaded and what customers sent."""

    def __init__(self, api):
        self.api = api
        self._lock = threading.Lock()
        self.items: dict[str, FakeMedia] = {}
        self.downloads: list[str] = []  # media ids served, in order (tests count retries)
        self._download_faults: list[int] = []  # statuses to answer the next file downloads with

    def reset(self) -> None:
        with self._lock:
            self.items.clear()
            self.downloads.clear()
            self._download_faults.clear()

    def fail_downloads(self, status: int = 500, *, count: int = 1) -> None:
        """Answer the next `count` file downloads with `status`."""
        with self._lock:
            self._download_faults.extend([status] * count)

    def uploads(self) -> list[FakeMedia]:
        with self._lock:
            return [item for item in self.items.values() if not item.message_uuid]

    def get(self, media_id: str) -> FakeMedia | None:
        with self._lock:
            return self.items.get(media_id)

    def add_inbound(self, *, message_uuid: str, data: bytes, content_type: str, file_name: str = "") -> str:
        """Keep a file a customer sends; returns its URL, as Plivo puts it in the webhook."""
        media = FakeMedia(media_id=uuid.uuid4().hex, file_name=file_name or "media", content_type=content_type,
                          data=data, message_uuid=message_uuid)
        with self._lock:
            self.items[media.media_id] = media
        return self.inbound_url(media)

    def inbound_url(self, media: FakeMedia) -> str:
        return f"{self.base_url()}/Account/{self.api.auth_id}/Message/{media.message_uuid}/Media/{media.media_id}"

    def base_url(self) -> str:
        return getattr(self.api, "base_url", "") or ""

    # --- HTTP ------------------------------------------------------------------------------
    def matches(self, path: str) -> bool:
        return bool(MEDIA_API_PATH.match(path) or MEDIA_FILE_PATH.match(path))

    def respond(self, method: str, path: str, body: bytes, content_type: str, query: str):
        """(status, answer, headers): the caller checked the credentials and the rate limit."""
        file_match = MEDIA_FILE_PATH.match(path)
        if file_match:
            if method != "GET":
                return 405, {"error": "method not allowed"}, {}
            media = self.get(file_match["media_id"])
            if media is None or media.message_uuid != file_match["uuid"]:
                return 404, {"error": "not found"}, {}
            with self._lock:
                self.downloads.append(media.media_id)
                if self._download_faults:
                    return self._download_faults.pop(0), {"error": "media temporarily unavailable"}, {}
            return 200, RawBody(media.data, media.content_type), {}
        match = MEDIA_API_PATH.match(path)
        if method == "GET" and match["media_id"]:
            media = self.get(match["media_id"])
            if media is None:
                return 404, {"error": "not found"}, {}
            return 200, media.as_plivo(self.base_url(), self.api.auth_id), {}
        if method == "GET":
            return self._list(query)
        if method != "POST" or match["media_id"]:
            return 405, {"error": "method not allowed"}, {}
        return self._upload(body, content_type)

    def _list(self, query: str):
        params = parse_qs(query or "")
        try:
            limit = int(params.get("limit", ["20"])[0])
            offset = int(params.get("offset", ["0"])[0])
        except ValueError:
            return 400, {"error": "limit and offset must be integers"}, {}
        if not 0 < limit <= 20 or offset < 0:
            return 400, {"error": "limit must be 1 to 20 and offset at least 0"}, {}
        uploads = sorted(self.uploads(), key=lambda item: item.uploaded_at, reverse=True)
        page = uploads[offset:offset + limit]
        return 200, {
            "meta": {"limit": limit, "offset": offset, "total_count": len(uploads), "previous": None,
                     "next": None if offset + limit >= len(uploads) else f"?limit={limit}&offset={offset + limit}"},
            "objects": [item.as_plivo(self.base_url(), self.api.auth_id) for item in page],
        }, {}

    def _upload(self, body: bytes, content_type: str):
        if not content_type.lower().startswith("multipart/form-data"):
            return 400, {"error": "the upload must be multipart/form-data with a file"}, {}
        parts = _multipart_files(body, content_type)
        if not parts:
            return 400, {"error": "file is a required parameter"}, {}
        stored = []
        for name, part_type, data in parts:
            if len(data) > UPLOAD_MAX_BYTES:
                return 413, {"error": f"{name} is larger than the upload limit"}, {}
            stored.append(FakeMedia(media_id=uuid.uuid4().hex, file_name=name, content_type=part_type, data=data))
        with self._lock:
            for media in stored:
                self.items[media.media_id] = media
        return 202, {"objects": [media.as_plivo(self.base_url(), self.api.auth_id) for media in stored]}, {}


def _multipart_files(body: bytes, content_type: str) -> list[tuple[str, str, bytes]]:
    """(file name, content type, bytes) of each `file` part of a multipart/form-data body."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        return []
    files = []
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") != "file":
            continue
        files.append((part.get_filename() or "file", part.get_content_type(), part.get_payload(decode=True) or b""))
    return files
