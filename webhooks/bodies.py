"""What Plivo signed: a webhook's body read as form fields or a JSON object.

A body that cannot be read (malformed, nested absurdly deep, shaped so the SDK's V3 code
could not sign it, too large) never raises: it comes back with an `error`, is checked as an
empty body (so an unsigned one is a 403) and, if signed that way, is refused with a 400.
"""

import json
from dataclasses import dataclass, replace

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, UnreadablePostError
from django.http.multipartparser import MultiPartParserError

# Plivo nests a few levels at most (`Button.Payload`, `Context.MessageUUID`); deeper JSON is
# refused before the SDK's recursive signing code or our own indexing walks it.
JSON_MAX_DEPTH = 16


@dataclass(frozen=True)
class SignedParams:
    """The parameters Plivo signed: form fields (lists of values) or the JSON object."""

    params: dict
    is_json: bool = False
    error: str = ""  # why the body could not be read; such a body is signed as empty
    too_large: bool = False  # over DATA_UPLOAD_MAX_MEMORY_SIZE: refused unread (413)

    def storable(self) -> "SignedParams":
        """These params without NUL characters, which PostgreSQL refuses in text and jsonb.

        Called once the signature (computed over what Plivo sent, NULs included) has been
        checked; the customer's words are kept, only the NULs go.
        """
        return replace(self, params=_without_nul(self.params))


def signed_params_from_request(request: HttpRequest) -> SignedParams:
    content_type = (request.content_type or "").lower()
    try:
        if content_type == "application/json" or content_type.endswith("+json"):
            return _json_params(request.body)
        # QueryDict -> {key: [values]}: the plivo SDK signs every value of a repeated key.
        return SignedParams({key: values for key, values in request.POST.lists()})
    except RequestDataTooBig:
        return SignedParams({}, error=f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.", too_large=True)
    except TooManyFieldsSent:
        return SignedParams({}, error=f"The form has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields.")
    except (MultiPartParserError, UnreadablePostError, LookupError, ValueError) as exc:
        # LookupError: a charset Python does not know; ValueError: a malformed form.
        return SignedParams({}, error=f"The form body could not be read ({type(exc).__name__}).")


def _json_params(body: bytes) -> SignedParams:
    try:
        data = json.loads(body or b"{}")
    except RecursionError:
        return SignedParams({}, is_json=True, error=f"The JSON body is nested more than {JSON_MAX_DEPTH} levels deep.")
    except (ValueError, UnicodeDecodeError):
        return SignedParams({}, is_json=True, error="The body is not valid JSON.")
    if not isinstance(data, dict):
        return SignedParams({}, is_json=True, error="The JSON body must be an object.")
    if problem := _unsignable(data):
        return SignedParams({}, is_json=True, error=problem)
    return SignedParams(data, is_json=True)


def _unsignable(data: dict) -> str:
    """Why the SDK's V3 code could not sign this JSON object ("" if it can), checked without
    recursion: it sorts each list after stringifying its items (so they must be scalars),
    recurses into objects, and encodes the text as UTF-8 (so no lone surrogates)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > JSON_MAX_DEPTH:
            return f"The JSON body is nested more than {JSON_MAX_DEPTH} levels deep."
        if isinstance(value, dict):
            for key, inner in value.items():
                if not _is_utf8(key):
                    return "The JSON body holds text that is not valid Unicode (a lone surrogate)."
                stack.append((inner, depth + 1))
        elif isinstance(value, list):
            if not all(isinstance(item, (str, int, float)) for item in value):
                return "JSON lists may hold only strings, numbers and booleans."
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and not _is_utf8(value):
            return "The JSON body holds text that is not valid Unicode (a lone surrogate)."
    return ""


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _without_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(inner) for key, inner in value.items()}
    return value


def storable_text(text: str) -> str:
    """A request value (a query parameter) as PostgreSQL can store it."""
    return text.replace("\x00", "")
