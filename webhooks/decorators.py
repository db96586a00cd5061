"""Every Plivo view goes through `plivo_signature_required`; there is no switch to skip it."""

import hmac
import logging
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse

from messaging_site.errors import error_body
from webhooks.bodies import SignedParams, signed_params_from_request
from webhooks.services import signature_family_record, v2_nonce_claim
from webhooks.signing import (
    V2_MAIN_ACCOUNT_SIGNATURE,
    V2_NONCE,
    V2_SIGNATURE,
    V3_MAIN_ACCOUNT_SIGNATURE,
    V3_NONCE,
    V3_SIGNATURE,
    expected_v2_signature,
    expected_v3_signature,
    request_digest,
)

logger = logging.getLogger(__name__)

V3, MA_V3, V2, MA_V2 = "v3", "ma-v3", "v2", "ma-v2"
V2_NONCE_MAX_LENGTH = 128  # SignatureNonce.nonce


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    family: str  # which header family decided: v3, ma-v3, v2, ma-v2 ("" when none was sent)
    reason: str = ""


def webhook_url(request: HttpRequest) -> str:
    """The exact URL Plivo called: our public origin, the path and the query string.

    Behind a TLS proxy `build_absolute_uri()` only knows the scheme and host if the proxy
    headers are configured, so PUBLIC_BASE_URL wins whenever it is set.
    """
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + request.get_full_path()
    return request.build_absolute_uri()


def _any_matches(header_value: str, expected: str) -> bool:
    """Plivo may send several comma-separated signatures; each is compared in constant time."""
    matched = False
    for candidate in header_value.split(","):
        matched |= hmac.compare_digest(candidate.strip().encode("utf-8"), expected.encode("utf-8"))
    return matched


def signature_check(request: HttpRequest, signed: SignedParams) -> SignatureCheck:
    headers = request.headers
    url = webhook_url(request)
    account_token, main_token = settings.PLIVO_AUTH_TOKEN, settings.PLIVO_MAIN_AUTH_TOKEN
    v3_headers = (headers.get(V3_SIGNATURE), headers.get(V3_MAIN_ACCOUNT_SIGNATURE), headers.get(V3_NONCE))

    if any(value is not None for value in v3_headers):
        # V3 signs the body; when any V3 header is present the weaker V2 is not considered.
        signature, main_signature, nonce = v3_headers
        if not nonce:
            return SignatureCheck(False, V3, f"{V3_NONCE} header is missing")
        if not signature and not main_signature:
            return SignatureCheck(False, V3, f"{V3_NONCE} without {V3_SIGNATURE} or {V3_MAIN_ACCOUNT_SIGNATURE}")

        def expected(token):
            return expected_v3_signature(method=request.method, url=url, params=signed.params, auth_token=token, nonce=nonce)

        reasons = []
        if signature:
            if not account_token:
                reasons.append("PLIVO_AUTH_TOKEN is not set")
            elif _any_matches(signature, expected(account_token)):
                return SignatureCheck(True, V3)
            else:
                reasons.append(f"{V3_SIGNATURE} does not match")
        if main_signature:
            if not main_token:
                reasons.append(f"{V3_MAIN_ACCOUNT_SIGNATURE} sent but PLIVO_MAIN_AUTH_TOKEN is not set")
            elif _any_matches(main_signature, expected(main_token)):
                return SignatureCheck(True, MA_V3)
            else:
                reasons.append(f"{V3_MAIN_ACCOUNT_SIGNATURE} does not match")
        return SignatureCheck(False, V3, f"{'; '.join(reasons)} (signed URL {url}, {len(signed.params)} body fields)")

    signature, main_signature, nonce = headers.get(V2_SIGNATURE), headers.get(V2_MAIN_ACCOUNT_SIGNATURE), headers.get(V2_NONCE)
    if signature is None and main_signature is None and nonce is None:
        return SignatureCheck(False, "", "no Plivo signature headers")
    if not settings.PLIVO_ACCEPT_V2_SIGNATURES:
        return SignatureCheck(False, V2, "V2 signatures are refused (PLIVO_ACCEPT_V2_SIGNATURES is off)")
    if not nonce:
        return SignatureCheck(False, V2, f"{V2_NONCE} header is missing")
    if len(nonce) > V2_NONCE_MAX_LENGTH or not (nonce.isascii() and nonce.isprintable()):
        return SignatureCheck(False, V2, f"{V2_NONCE} is not a nonce Plivo sends")
    reasons = []
    if signature:
        if account_token and _any_matches(signature, expected_v2_signature(url=url, auth_token=account_token, nonce=nonce)):
            return SignatureCheck(True, V2)
        reasons.append(f"{V2_SIGNATURE} does not match" if account_token else "PLIVO_AUTH_TOKEN is not set")
    if main_signature:
        if main_token and _any_matches(main_signature, expected_v2_signature(url=url, auth_token=main_token, nonce=nonce)):
            return SignatureCheck(True, MA_V2)
        reasons.append(f"{V2_MAIN_ACCOUNT_SIGNATURE} does not match" if main_token else "PLIVO_MAIN_AUTH_TOKEN is not set")
    if not reasons:
        reasons.append(f"{V2_NONCE} without a V2 signature")
    return SignatureCheck(False, V2, f"{'; '.join(reasons)} (signed URL {url})")


def _refused(request: HttpRequest, reason: str, *, message: str = "This request does not carry a valid Plivo signature.",
             code: str = "invalid_signature", status: int = 403) -> JsonResponse:
    logger.warning("refused Plivo webhook %s from %s: %s", request.path, request.META.get("REMOTE_ADDR"), reason)
    return JsonResponse(error_body(message, code=code), status=status)


def _v2_replayed(request: HttpRequest, signed: SignedParams) -> bool:
    """A V2 nonce seen before with another request: a captured header pair with a new body or query."""
    digest = request_digest(method=request.method, full_path=request.get_full_path(), params=signed.params)
    return not v2_nonce_claim(nonce=request.headers[V2_NONCE], request_digest=digest)


def plivo_signature_required(view):
    """403 unless the request carries a valid Plivo signature; the view gets `request.plivo_params`."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        signed = signed_params_from_request(request)
        if signed.too_large:
            # Nothing was read, so there is nothing to check a signature against.
            return _refused(request, signed.error, message=signed.error, code="body_too_large", status=413)
        check = signature_check(request, signed)
        if not check.ok:
            return _refused(request, f"{check.reason}; the body was checked as empty: {signed.error}" if signed.error else check.reason)
        if check.family in (V2, MA_V2) and _v2_replayed(request, signed):
            return _refused(request, f"{V2_NONCE} was already used with another request (a replay)")
        request.plivo_params = signed.storable()
        request.plivo_signature_family = check.family
        # One tally per endpoint, whichever spelling of its URL Plivo was given.
        signature_family_record(endpoint=request.path.rstrip("/") + "/", family=check.family)
        return view(request, *args, **kwargs)

    return wrapped


def database_unavailable_as_503(view):
    """Never 200 before the data is committed: a database outage answers 503 so Plivo retries."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            logger.error("Plivo webhook %s answered 503, database unavailable: %s", request.path, first_line)
            response = JsonResponse(
                error_body("The database is unavailable; Plivo will retry this request.", code="database_unavailable"),
                status=503,
            )
            response["Retry-After"] = "60"
            return response

    return wrapped
