"""Reading a request: its query string or body validated with a serializer (a 400 naming the
field otherwise), and its Idempotency-Key header."""

from messaging_site.errors import ApplicationError

IDEMPOTENCY_HEADER = "Idempotency-Key"


def validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def idempotency_key(request) -> str:
    """The request's Idempotency-Key ("" without one): a repeat with the same key returns what the
    first request made instead of making it again."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > 100 or not key.isprintable() or not key.isascii():
        raise ApplicationError("The Idempotency-Key header must be at most 100 printable ASCII characters (a UUID works well).",
                               field=IDEMPOTENCY_HEADER, code="invalid_idempotency_key", status=400)
    return key
