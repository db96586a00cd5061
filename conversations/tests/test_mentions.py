"""@mentions in notes: who is notified, and who is not."""

import pytest

from conversations.models import Notification
from conversations.services.mentions import MAX_MENTIONS, mention_names
from conversations.services.thread_entries import note_add
from conversations.tests.factories import ConversationFactory, UserFactory

pytestmark = pytest.mark.django_db


def notified(text: str, author) -> list[str]:
    note = note_add(conversation=ConversationFactory(), author=author, text=text)
    return sorted(Notification.objects.filter(message=note).values_list("recipient__username", flat=True))


def test_a_mentioned_agent_is_notified_of_the_note(agent, other_agent):
    conversation = ConversationFactory()
    note = note_add(conversation=conversation, author=agent, text="@bob can you check the refund?")
    notification = Notification.objects.get()
    assert (notification.recipient, notification.kind, notification.conversation, notification.message, notification.actor) \
        == (other_agent, "mention", conversation, note, agent)
    assert notification.read_at is None
    assert note.structured == {"mentions": [{"id": other_agent.pk, "username": "bob"}]}


@pytest.mark.parametrize("text", [
    "Hi @Bob, over to you",  # case-insensitive, punctuation after the name
    "ask @bob.",  # a full stop ending the sentence
    "(@bob)",
    "@bob @bob @BOB twice or more is still one notification",
    "first line\n@bob on the next",
])
def test_the_ways_of_writing_a_mention(agent, other_agent, text):
    assert notified(text, agent) == ["bob"]


@pytest.mark.parametrize("text", [
    "mail bob@example.com about it",  # an email address is not a mention
    "alice@bob",
    "@bobby is not bob",
    "@nobody knows",  # no such user: plain text, not an error
    "@ bob",
    "email@bob",
])
def test_what_is_not_a_mention_of_bob(agent, other_agent, text):
    assert notified(text, agent) == []


def test_users_who_are_not_agents_are_never_notified(agent, outsider, agents_group):
    retired = UserFactory(username="carol", is_active=False)
    retired.groups.add(agents_group)
    assert notified("@mallory @carol please look", agent) == []


def test_staff_count_as_agents(agent, staff):
    assert notified("@staff please approve", agent) == ["staff"]


def test_mentioning_yourself_notifies_nobody_but_marks_the_mention(agent):
    note = note_add(conversation=ConversationFactory(), author=agent, text="reminder for @alice")
    assert not Notification.objects.exists()
    assert note.structured["mentions"] == [{"id": agent.pk, "username": "alice"}]


def test_several_agents_in_one_note(agent, other_agent, agents_group):
    UserFactory(username="dan.o'neil")  # not an agent
    carol = UserFactory(username="carol.smith+support", first_name="Carol")
    carol.groups.add(agents_group)
    assert notified("@bob and @carol.smith+support, see above. @dan.o", agent) == ["bob", "carol.smith+support"]


def test_usernames_differing_only_in_case_go_to_the_one_written(agent, other_agent, agents_group):
    other_bob = UserFactory(username="Bob")
    other_bob.groups.add(agents_group)
    assert notified("@Bob hi", agent) == ["Bob"]
    assert notified("@bob hi", agent) == ["bob"]
    assert notified("@BOB hi", agent) == []  # ambiguous: nobody rather than the wrong person


def test_markup_in_a_mention_is_just_an_unknown_name(agent, other_agent):
    assert notified('@<script>alert(1)</script> @bob"><img src=x onerror=alert(1)>', agent) == ["bob"]


def test_names_looked_up_per_note_are_capped(agent):
    names = mention_names(" ".join(f"@user{n}" for n in range(MAX_MENTIONS * 3)))
    assert len(names) == MAX_MENTIONS and names[0] == "user0"
