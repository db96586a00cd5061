"""Presence over the inbox socket: "Alice is viewing", "Alice is typing…", never stored."""

import pytest
from asgiref.sync import sync_to_async

from conversations.models import InboxEvent
from conversations.presence import BURST_LIMIT, REPEAT_SECONDS, PresenceThrottle
from conversations.tests.test_consumers import open_socket, session_cookie_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def signed_in(user):
    communicator, connected = await open_socket(await sync_to_async(session_cookie_for)(user))
    assert connected
    return communicator


def presence(conversation_id, state, **extra):
    return {"type": "presence", "conversation_id": conversation_id, "state": state, **extra}


async def test_an_agent_typing_is_shown_to_the_other_with_who_and_for_how_long(agent, other_agent):
    alice, bob = await signed_in(agent), await signed_in(other_agent)
    await alice.send_json_to(presence(7, "viewing"))
    await alice.send_json_to(presence(7, "typing"))
    assert await bob.receive_json_from(timeout=3) == {
        "type": "presence", "user": {"id": agent.pk, "name": "Alice"}, "conversation_id": 7, "state": "viewing",
        "expires_in": 5,
    }
    assert (await bob.receive_json_from(timeout=3))["state"] == "typing"
    # The sender is not echoed its own presence.
    assert await alice.receive_nothing(timeout=0.2)
    assert await sync_to_async(InboxEvent.objects.count)() == 0  # nothing stored
    await alice.disconnect()
    await bob.disconnect()


async def test_keystrokes_are_throttled_but_a_change_of_state_goes_through(agent, other_agent):
    alice, bob = await signed_in(agent), await signed_in(other_agent)
    for _ in range(20):  # one per keystroke
        await alice.send_json_to(presence(7, "typing"))
    await alice.send_json_to(presence(7, "left"))
    received = [await bob.receive_json_from(timeout=3) for _ in range(2)]
    assert [event["state"] for event in received] == ["typing", "left"]
    await alice.disconnect()
    await bob.disconnect()


async def test_who_it_is_comes_from_the_session_not_the_message(agent, other_agent):
    alice, bob = await signed_in(agent), await signed_in(other_agent)
    await alice.send_json_to(presence(7, "typing", user={"id": other_agent.pk, "name": "Bob"}, expires_in=3600))
    event = await bob.receive_json_from(timeout=3)
    assert (event["user"], event["expires_in"]) == ({"id": agent.pk, "name": "Alice"}, 5)
    await alice.disconnect()
    await bob.disconnect()


@pytest.mark.parametrize("bad", [
    presence("7", "typing"), presence(True, "typing"), presence(-1, "typing"), presence(2**70, "typing"),
    presence(7, "shouting"), presence(7, None), {"type": "presence"}, ["presence"], "typing",
])
async def test_malformed_presence_is_dropped_and_the_socket_stays(agent, other_agent, bad):
    alice, bob = await signed_in(agent), await signed_in(other_agent)
    await alice.send_json_to(bad)
    await alice.send_json_to({"type": "ping"})
    assert await alice.receive_json_from(timeout=3) == {"type": "pong"}
    assert await bob.receive_nothing(timeout=0.2)
    await alice.disconnect()
    await bob.disconnect()


async def test_a_non_agent_cannot_inject_presence(outsider, other_agent):
    bob = await signed_in(other_agent)
    mallory, connected = await open_socket(await sync_to_async(session_cookie_for)(outsider))
    assert not connected  # refused at the handshake: nothing it sends reaches anyone
    anonymous, connected = await open_socket()
    assert not connected
    assert await bob.receive_nothing(timeout=0.3)
    await bob.disconnect()


async def test_closing_the_page_says_it_left(agent, other_agent):
    alice, bob = await signed_in(agent), await signed_in(other_agent)
    await alice.send_json_to(presence(7, "viewing"))
    assert (await bob.receive_json_from(timeout=3))["state"] == "viewing"
    await alice.disconnect()
    event = await bob.receive_json_from(timeout=3)
    assert (event["conversation_id"], event["state"]) == (7, "left")
    await bob.disconnect()


async def test_the_throttle_repeats_a_state_after_its_interval_and_caps_bursts():
    now = [100.0]
    throttle = PresenceThrottle(clock=lambda: now[0])
    assert throttle.allow(7, "typing") and not throttle.allow(7, "typing")
    now[0] += REPEAT_SECONDS
    assert throttle.allow(7, "typing")
    # Alternating states cannot flood: at most BURST_LIMIT per window (two went already).
    passed = sum(throttle.allow(7, state) for state in ["viewing", "typing"] * BURST_LIMIT)
    assert passed == BURST_LIMIT - 2
    now[0] += 5.0
    assert throttle.allow(7, "viewing")
