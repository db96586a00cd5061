"""Parley's one application error, and the JSON shape every refusal takes.

Services raise `ApplicationError` for anything the caller can act on. It is rendered in two
places only: the REST API's exception handler (`conversations.api.errors`) for DRF views, and
`ApplicationErrorMiddleware` for plain Django views (webhooks, simulator), so no call site
translates errors by hand.
"""

from django.http import JsonResponse
from django.utils.deprecation import MiddlewareMixin


class ApplicationError(Exception):
    """A refusal with a reason: `message` says why and what to do instead, `field` names the
    input at fault (dotted path, or None), `code` is stable for programs, `status` is the HTTP status."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid", status: int = 422):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
        self.status = status

    def as_body(self) -> dict:
        return error_body(self.message, field=self.field, code=self.code)


def error_body(message: str, *, field: str | None = None, code: str = "invalid") -> dict:
    return {"error": {"message": message, "field": field, "code": code}}


class ApplicationErrorMiddleware(MiddlewareMixin):
    def process_exception(self, request, exception):
        if isinstance(exception, ApplicationError):
            return JsonResponse(exception.as_body(), status=exception.status)
        return None
