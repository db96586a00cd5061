"""Plivo webhook signatures, computed with the plivo SDK's own V3 code.

`sign_v3` is what the simulator, the tests and the benchmarks use to produce requests exactly
as Plivo signs them; `expected_v3_signature` is what the webhook check compares against.
"""

import base64
import hashlib
import hmac
import json
import secrets
from urllib.parse import urlsplit, urlunsplit

from plivo.utils.signature_v3 import construct_get_url, construct_post_url, get_signature_v3

V3_SIGNATURE = "X-Plivo-Signature-V3"
V3_MAIN_ACCOUNT_SIGNATURE = "X-Plivo-Signature-Ma-V3"
V3_NONCE = "X-Plivo-Signature-V3-Nonce"
V2_SIGNATURE = "X-Plivo-Signature-V2"
V2_MAIN_ACCOUNT_SIGNATURE = "X-Plivo-Signature-Ma-V2"
V2_NONCE = "X-Plivo-Signature-V2-Nonce"


def expected_v3_signature(*, method: str, url: str, params: dict, auth_token: str, nonce: str) -> str:
    """The base64 V3 signature Plivo computes for a request to `url` carrying `params`.

    `url` is the full URL Plivo called (scheme, host, port, path, query). `params` are the
    body parameters of a POST (a dict of str or of lists of str); for GET they are the query.
    """
    params = dict(params)
    if method.upper() == "GET":
        base = construct_get_url(url, params).decode("utf-8")
    else:
        base = construct_post_url(url, params).decode("utf-8")
    return get_signature_v3(auth_token.encode("utf-8"), base, nonce.encode("utf-8")).decode("ascii")


def sign_v3(*, url: str, params: dict, auth_token: str, method: str = "POST", nonce: str | None = None,
            main_account_token: str | None = None) -> dict[str, str]:
    """Headers Plivo would send with this request (plus `-Ma-V3` when a main token is given)."""
    nonce = nonce or str(secrets.randbelow(10**20)).zfill(20)
    headers = {
        V3_SIGNATURE: expected_v3_signature(method=method, url=url, params=params, auth_token=auth_token, nonce=nonce),
        V3_NONCE: nonce,
    }
    if main_account_token:
        headers[V3_MAIN_ACCOUNT_SIGNATURE] = expected_v3_signature(
            method=method, url=url, params=params, auth_token=main_account_token, nonce=nonce
        )
    return headers


def expected_v2_signature(*, url: str, auth_token: str, nonce: str) -> str:
    """The older V2 signature: the URL without its query, then the nonce; the body is not signed.

    The same computation as the SDK's `plivo.utils.validate_signature`, which only returns a
    bool compared with `==`; we need the value to compare it in constant time.
    """
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    digest = hmac.new(auth_token.encode("utf-8"), (base + nonce).encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_v2(*, url: str, auth_token: str, nonce: str | None = None, main_account_token: str | None = None) -> dict[str, str]:
    """V2 headers as Plivo's messaging docs describe them (plus `-Ma-V2` when a main token is given)."""
    nonce = nonce or str(secrets.randbelow(10**20)).zfill(20)
    headers = {V2_SIGNATURE: expected_v2_signature(url=url, auth_token=auth_token, nonce=nonce), V2_NONCE: nonce}
    if main_account_token:
        headers[V2_MAIN_ACCOUNT_SIGNATURE] = expected_v2_signature(url=url, auth_token=main_account_token, nonce=nonce)
    return headers


def request_digest(*, method: str, full_path: str, params: dict) -> str:
    """SHA-256 of what V2 leaves unsigned: the query string and the fields (with the method
    and path), so a V2 nonce can be tied to the one request it came with."""
    fields = {key: value[0] if isinstance(value, list) and len(value) == 1 else value for key, value in params.items()}
    canonical = json.dumps([method.upper(), full_path, fields], sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
