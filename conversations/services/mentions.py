"""@mentions in a private note: which agents a note names.

`@username` names an agent when it is not part of a longer word or an email address
("mail bob@example.com" mentions nobody). Usernames may hold `.`, `+`, `-` and `@`, so a
sentence's full stop right after a name ("ask @bob.") is tried both with and without it.
Anything that is not an active agent's username is plain text: no error, nobody notified.
"""

import re

from django.db.models.functions import Lower

from conversations.permissions import agent_list

# Django's username characters; not after a character that would make it part of a word or address.
MENTION = re.compile(r"(?<![\w.@+-])@([\w.@+-]+)")
MAX_MENTIONS = 50  # names looked up per note; a pasted list of handles does not become a query per name
TRAILING_PUNCTUATION = ".@+-"


def mention_names(text: str) -> list[str]:
    """The names written after an `@`, in order, each once (case-insensitively)."""
    names: dict[str, str] = {}
    for match in MENTION.finditer(text or ""):
        name = match.group(1)
        names.setdefault(name.lower(), name)
        if len(names) >= MAX_MENTIONS:
            break
    return list(names.values())


def mentioned_agents(*, text: str) -> list:
    """The active agents `text` @mentions, in the order first named. A name matches a username
    case-insensitively; when two usernames differ only in case, the one written exactly wins."""
    written = mention_names(text)
    candidates = {}
    for name in written:
        for candidate in (name, name.rstrip(TRAILING_PUNCTUATION)):
            if candidate:
                candidates.setdefault(candidate.lower(), set()).add(candidate)
    if not candidates:
        return []
    agents = list(agent_list().annotate(username_lower=Lower("username")).filter(username_lower__in=candidates))
    by_name: dict[str, list] = {}
    for agent in agents:
        by_name.setdefault(agent.username_lower, []).append(agent)
    found, seen = [], set()
    for name in written:
        for candidate in (name, name.rstrip(TRAILING_PUNCTUATION)):
            matches = by_name.get(candidate.lower(), [])
            if len(matches) > 1:
                matches = [agent for agent in matches if agent.username in candidates[candidate.lower()]]
            if len(matches) == 1:
                if matches[0].pk not in seen:
                    seen.add(matches[0].pk)
                    found.append(matches[0])
                break
    return found
