"""A cursor the client sent back that this server did not hand out: 400 naming the parameter."""

from conversations import selectors
from messaging_site.errors import ApplicationError


def cursor_error(exc: selectors.InvalidCursor, *, field: str) -> ApplicationError:
    return ApplicationError(str(exc), field=field, code="invalid_cursor", status=400)
