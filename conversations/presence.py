"""Who is looking at or typing in a conversation: "Alice is viewing", "Alice is typing…".

Presence goes from a page's socket straight through the channel layer to the other agents'
sockets; it is never stored (no database write per keystroke) and never replayed after a
reconnect. Each notice says how long it holds (`expires_in`); a page that keeps viewing or
typing repeats it, a page that stops lets it expire or sends `left`. Who it is comes from
the socket's signed-in user, never from the message.
"""

import time
from collections import deque

STATES = ("viewing", "typing", "left")
EXPIRES_IN_SECONDS = 5
# A socket repeating the same state for the same conversation is passed on at most this often;
# a change of state always goes through (within the burst limit).
REPEAT_SECONDS = 2.0
# At most this many notices per socket per window, whatever they say.
BURST_LIMIT = 10
BURST_WINDOW_SECONDS = 5.0
MAX_CONVERSATION_ID = 2**63 - 1


def presence_parse(content: dict) -> tuple[int, str] | None:
    """(conversation id, state) from a page's `{"type": "presence", ...}`, or None when malformed."""
    conversation_id, state = content.get("conversation_id"), content.get("state")
    if type(conversation_id) is not int or not 0 < conversation_id <= MAX_CONVERSATION_ID or state not in STATES:
        return None
    return conversation_id, state


class PresenceThrottle:
    """Per socket: which notices to pass on."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._last: tuple[int, str] | None = None
        self._last_at = 0.0
        self._recent: deque[float] = deque()

    def allow(self, conversation_id: int, state: str) -> bool:
        now = self._clock()
        if (conversation_id, state) == self._last and now - self._last_at < REPEAT_SECONDS:
            return False
        while self._recent and now - self._recent[0] >= BURST_WINDOW_SECONDS:
            self._recent.popleft()
        if len(self._recent) >= BURST_LIMIT:
            return False
        self._recent.append(now)
        self._last, self._last_at = (conversation_id, state), now
        return True


def presence_event(*, user: dict, conversation_id: int, state: str) -> dict:
    """What other agents' pages receive."""
    return {
        "type": "presence",
        "user": user,
        "conversation_id": conversation_id,
        "state": state,
        "expires_in": EXPIRES_IN_SECONDS,
    }
