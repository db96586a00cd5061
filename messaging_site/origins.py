"""Which pages may open the inbox socket with an agent's cookie: the site's own origin only.

Channels' `AllowedHostsOriginValidator` compares the Origin's host with ALLOWED_HOSTS and
ignores scheme and port, so a page on `http://127.0.0.1:9999` (any local dev server, or a
plain-http twin of the site) could open `/ws/inbox/` and read every event. Here the Origin must
equal, scheme and port included, the origin the socket itself was opened on, PUBLIC_BASE_URL,
or one of CSRF_TRUSTED_ORIGINS (Django's own list of origins trusted for cookie writes).
"""

from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def _normalised(origin: str) -> str | None:
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default_port = 443 if parts.scheme == "https" else 80
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default_port else "")


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _socket_origin(scope) -> str | None:
    """The http(s) origin of the URL this socket was opened on, if its Host is one we serve."""
    host = _header(scope, b"host")
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    secure = scope.get("scheme") in ("wss", "https")
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        # Behind the TLS proxy the socket arrives as plain ws; the proxy says what the browser used.
        header_name = proxy_header[0].removeprefix("HTTP_").replace("_", "-").lower().encode()
        forwarded = _header(scope, header_name).split(",")[0].strip().lower()
        if forwarded:
            secure = forwarded == proxy_header[1]
    return _normalised(f"{'https' if secure else 'http'}://{host}")


def origin_allowed(scope) -> bool:
    origin = _normalised(_header(scope, b"origin"))
    if origin is None:
        return False
    if origin == _socket_origin(scope):
        return True
    if settings.PUBLIC_BASE_URL and origin == _normalised(settings.PUBLIC_BASE_URL):
        return True
    # CSRF_TRUSTED_ORIGINS may use Django's "https://*.example.com" wildcard form.
    return any(fnmatchcase(origin, trusted.lower().rstrip("/")) for trusted in settings.CSRF_TRUSTED_ORIGINS)


class SameOriginValidator:
    """ASGI middleware: refuse (HTTP 403) a websocket whose Origin is not the site's own."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
