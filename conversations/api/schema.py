"""The OpenAPI description of Parley's error shape, shared by every API module."""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ERROR_RESPONSE = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorDetail",
            {
                "message": serializers.CharField(),
                "field": serializers.CharField(allow_null=True),
                "code": serializers.CharField(),
            },
        )
    },
)


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ERROR_RESPONSE, description=description)


ERRORS = {
    400: error_response("Invalid input (the field and a reason are given)."),
    401: error_response("No credentials: send `Authorization: Token <key>` or sign in."),
    403: error_response("Signed in, but not an agent, or not allowed."),
    404: error_response("No such object."),
    503: error_response("The database is unavailable; retry after `Retry-After` seconds."),
}
