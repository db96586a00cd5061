"""One error shape for the whole API: {"error": {"message", "field", "code"}}."""

import logging

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


logger = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 30


class ApiError(exceptions.APIException):
    """A refusal the caller can act on: `message` says why and what to do instead."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid", status_code: int | None = None):
        super().__init__(detail=message, code=code)
        self.field = field
        self.error_code = code
        if status_code:
            self.status_code = status_code


def error_body(message: str, *, field: str | None = None, code: str = "invalid") -> dict:
    return {"error": {"message": message, "field": field, "code": code}}


def _first_validation_error(detail, prefix=""):
    """The first (field path, message, code) in a DRF ValidationError's nested detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = key if key == "non_field_errors" else (f"{prefix}.{key}" if prefix else str(key))
            return _first_validation_error(value, "" if key == "non_field_errors" else path)
    if isinstance(detail, list) and detail:
        first = detail[0]
        if isinstance(first, (dict, list)):
            for index, item in enumerate(detail):
                if item:
                    return _first_validation_error(item, f"{prefix}.{index}" if prefix else str(index))
        return prefix or None, str(first), getattr(first, "code", "invalid")
    return prefix or None, str(detail), getattr(detail, "code", "invalid")


def _database_unavailable(exc, context) -> Response:
    request = context.get("request")
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    logger.error("API %s answered 503, database unavailable: %s", getattr(request, "path", "?"), first_line)
    return Response(
        error_body("The database is unavailable; try again shortly.", code="database_unavailable"),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def exception_handler(exc, context):
    if isinstance(exc, (OperationalError, InterfaceError)):
        return _database_unavailable(exc, context)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        body = error_body(str(exc.detail), field=exc.field, code=exc.error_code)
    elif isinstance(exc, exceptions.ValidationError):
        field, message, code = _first_validation_error(exc.detail)
        body = error_body(message, field=field, code=code)
        body["error"]["details"] = exc.detail
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        body = error_body(str(detail), code=code if isinstance(code, str) else "error")
    return Response(body, status=response.status_code, headers=_passthrough_headers(response))


def _passthrough_headers(response) -> dict:
    return {k: v for k, v in response.items() if k in ("Retry-After", "WWW-Authenticate", "Allow")}
