"""The error codes a message carries: Plivo's, explained for the agent who sees a failed
message, and the few Parley sets itself.

Codes from Plivo's messaging error-code table (docs: messaging/troubleshooting/error-codes).
Each text says what happened and what the agent can do about it.
"""

OPTED_OUT_ERROR_CODE = "200"

# Error codes Parley sets itself (Plivo's own ErrorCodes are numbers).
ERROR_UNAVAILABLE = "plivo_unavailable"
# Parley did not send it (opted out or window closed while queued, misconfigured, content it
# cannot build); a refusal by Plivo's API is "http_<status>".
ERROR_REFUSED = "parley_refused"
# Written while Parley does not know whether Plivo got a send; any delivery report settles it.
ERROR_UNCONFIRMED = "unconfirmed"
# Plivo answered 429: the account's API limit. The send waits its turn; it is not a failure.
ERROR_RATE_LIMITED = "rate_limited"
# Plivo accepted a send, no report came, and looking it up later Plivo did not know it.
ERROR_UNKNOWN_TO_PLIVO = "unknown_to_plivo"

# Shown beside a message whose automatic retry is waiting: "Plivo busy, retrying in 30 s".
RETRY_REASONS = {ERROR_UNAVAILABLE: "Plivo busy", ERROR_RATE_LIMITED: "Plivo rate limit"}


def http_error_code(status: int) -> str:
    """The code of a send Plivo's API refused with HTTP `status` (400, 401, 403, 404, ...)."""
    return f"http_{status}"

# Codes Plivo sends when there is no error at all.
_NO_ERROR = {"", "0", "000", "none", "null"}

ERROR_EXPLANATIONS = {
    "10": "Plivo refused the message as invalid (for example empty text or characters the channel cannot carry). Edit it and send again.",
    "20": "A temporary network problem between Plivo and the carrier stopped this message. Sending it again later usually works.",
    "30": "The carrier flagged this message as spam and blocked it. Rephrase it (avoid link shorteners and all capitals) before sending again.",
    "40": "Our sending number is not allowed to send to this destination (not enabled or not registered for it). Ask an admin to check the Plivo number.",
    "50": "The customer's number is not a valid mobile number. Check the number with the customer.",
    "60": "The carrier stopped a message loop: too many identical messages went back and forth between these numbers.",
    "70": "The customer's number is disconnected or cannot receive messages. Reach them another way.",
    "80": "The customer's phone was unreachable (switched off or out of coverage). Try again later.",
    "90": "Plivo has no carrier route to this destination. Ask an admin to check Plivo's coverage for this country.",
    "100": "The customer's carrier refused the message (its content or our sender is not allowed on that network).",
    "110": "The message is too long for this channel. Shorten it and send again.",
    OPTED_OUT_ERROR_CODE: "The customer replied STOP and has opted out of messages from this number. Do not message them until they opt back in (START).",
    "201": "US toll-free numbers cannot send to Canadian numbers. Send from another number.",
    "420": "The message waited more than 3 hours in Plivo's queue and expired without being sent. Send it again if it still matters.",
    "1000": "Plivo reported an unknown error. Try again; if it keeps failing, contact Plivo support with the message ID.",
}


# What happened, in a few words: the simulated customer phone shows these, and the agent-facing
# explanations above say it at length with what to do.
ERROR_NAMES = {
    "10": "invalid message",
    "20": "network error",
    "30": "flagged as spam",
    "40": "sending number not allowed",
    "50": "invalid destination number",
    "60": "message loop",
    "70": "destination permanently unavailable",
    "80": "destination temporarily unavailable",
    "90": "no route to the destination",
    "100": "refused by the carrier",
    "110": "message too long",
    OPTED_OUT_ERROR_CODE: "the customer opted out (STOP)",
    "201": "toll-free number to Canada",
    "420": "expired in the queue",
    "1000": "unknown error",
}


def normalize_error_code(code) -> str:
    """The code as Plivo's table writes it ("200"), or "" when it means no error."""
    text = str(code if code is not None else "").strip()
    if text.lower() in _NO_ERROR:
        return ""
    return text.lstrip("0") if text.isdigit() else text


def explain_error_code(code) -> str:
    """A plain-language explanation of a Plivo message error code ("" for no error)."""
    normalized = normalize_error_code(code)
    if not normalized:
        return ""
    return ERROR_EXPLANATIONS.get(
        normalized,
        f"Plivo reported error {normalized}, which has no known explanation. "
        "If it keeps happening, contact Plivo support with the message ID.",
    )


def error_name(code) -> str:
    """A few words for a Plivo message error code ("" for no error)."""
    normalized = normalize_error_code(code)
    if not normalized:
        return ""
    return ERROR_NAMES.get(normalized, f"error {normalized}")
