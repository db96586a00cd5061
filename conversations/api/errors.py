"""The REST API's exception handler: every error becomes {"error": {"message", "field", "code"}}.

This is the one place errors are mapped: `ApplicationError` from any service keeps its status,
field and code; DRF's own errors (validation, auth, throttling) and a database outage are
translated into the same shape.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from messaging_site.errors import ApplicationError, error_body

logger = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 30


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
    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response(exc.as_body(), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        field, message, code = _first_validation_error(exc.detail)
        body = error_body(message, field=field, code=code)
        body["error"]["details"] = exc.detail
    else:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        body = error_body(str(exc.detail), code=code if isinstance(code, str) else "error")
    return Response(body, status=response.status_code, headers=_passthrough_headers(response))


def _passthrough_headers(response) -> dict:
    return {k: v for k, v in response.items() if k in ("Retry-After", "WWW-Authenticate", "Allow")}
