"""Team workflow in the inbox, two agents side by side where collaboration is the point: who is
looking and typing, replying to a colleague's conversation, activity entries, snooze presets and
bulk actions. Real Chromium, the real ASGI app in daphne."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from conversations.models import Conversation, Message
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageFactory

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def row(page, conversation_id):
    return page.locator(f'#conversation-list li[data-id="{conversation_id}"]')


def thread_with(name, phone, minutes_ago=5, **kwargs) -> Conversation:
    moment = timezone.now() - timedelta(minutes=minutes_ago)
    conversation = ConversationFactory(contact=ContactFactory(display_name=name, phone=phone), channel="whatsapp",
                                       last_inbound_at=moment, last_message_at=moment, **kwargs)
    message = MessageFactory(conversation=conversation, text=f"Hello from {name}", created_at=moment)
    Conversation.objects.filter(pk=conversation.pk).update(last_message=message)
    return conversation


def live(page):
    expect(page.locator("#connection")).to_have_text("Live")
    return page


def test_bob_sees_alice_viewing_and_typing_and_the_typing_expires(pages, agent, other_agent):
    conversation = thread_with("Dana Whitfield", "+14155550123")
    path = f"/inbox/{conversation.pk}/"
    bob = live(pages.open(other_agent, path=path))
    alice = live(pages.open(agent, path=path))
    expect(bob.locator("#presence")).to_have_text("Alice is viewing", timeout=4000)
    expect(alice.locator("#presence")).to_have_text("Bob is viewing", timeout=4000)  # never herself

    alice.locator("#composer-text").press_sequentially("Let me check that for y", delay=40)
    expect(bob.locator("#presence")).to_have_text("Alice is typing…", timeout=3000)
    # She stops: no notice renews the typing, which expires (about 5 s); she is still looking.
    expect(bob.locator("#presence")).to_have_text("Alice is viewing", timeout=9000)

    alice.context.close()  # she closes the tab: gone at once, not after the expiry
    expect(bob.locator("#presence")).to_be_hidden(timeout=3000)
    assert Message.objects.filter(conversation=conversation).count() == 1  # nothing was stored


def test_replying_in_a_colleagues_conversation_asks_inline_first(pages, agent, other_agent):
    conversation = thread_with("Dana Whitfield", "+14155550123", assignee=agent)
    bob = live(pages.open(other_agent, path=f"/inbox/{conversation.pk}/"))
    warning = bob.locator("#assignment-warning")
    expect(warning).to_contain_text("Assigned to Alice – reply anyway?")  # before anything is typed

    bob.locator("#composer-text").fill("I can take this one")
    bob.locator("#composer-text").press("Enter")
    expect(warning).to_contain_text("Press Enter again to send")
    expect(bob.locator("#composer-text")).to_be_focused()  # no dialog: still typing
    expect(bob.locator("#composer-text")).to_have_value("I can take this one")
    assert not Message.objects.filter(direction="outbound").exists()

    bob.locator("#composer-text").press("Enter")
    expect(bob.locator("#message-list .msg.out")).to_contain_text("I can take this one")
    expect(bob.locator("#composer-text")).to_have_value("")
    expect(warning).to_be_hidden()
    assert Message.objects.get(direction="outbound").sent_by == other_agent
    assert Conversation.objects.get(pk=conversation.pk).assignee == agent  # still hers

    alice = live(pages.open(agent, path=f"/inbox/{conversation.pk}/"))
    expect(alice.locator("#thread-assignee")).to_have_text("Assigned to you")
    expect(alice.locator("#assignment-warning")).to_be_hidden()


def test_escape_takes_the_question_back(pages, agent, other_agent):
    conversation = thread_with("Dana Whitfield", "+14155550123", assignee=agent)
    bob = live(pages.open(other_agent, path=f"/inbox/{conversation.pk}/"))
    bob.locator("#composer-text").fill("Hmm")
    bob.locator("#composer-text").press("Enter")
    expect(bob.locator("#assignment-warning")).to_contain_text("Press Enter again")
    bob.locator("#composer-text").press("Escape")
    expect(bob.locator("#assignment-warning")).not_to_contain_text("Press Enter again")
    bob.locator("#composer-text").press("Enter")  # asks again rather than sending
    expect(bob.locator("#assignment-warning")).to_contain_text("Press Enter again")
    assert not Message.objects.filter(direction="outbound").exists()


def test_activity_entries_appear_live_in_both_threads(pages, agent, other_agent):
    conversation = thread_with("Dana Whitfield", "+14155550123")
    path = f"/inbox/{conversation.pk}/"
    alice, bob = live(pages.open(agent, path=path)), live(pages.open(other_agent, path=path))
    alice.select_option("#assign-other", label="Bob")
    for page in (alice, bob):
        expect(page.locator("#message-list .activity-text")).to_have_text(["Alice assigned this to Bob"], timeout=3000)
    bob.keyboard.press("e")
    expect(alice.locator("#message-list .activity-text").last).to_contain_text("Resolved by Bob", timeout=3000)
    # Between the messages, not in the list preview.
    expect(alice.locator("#message-list > li.msg.in + li.activity + li.activity")).to_have_count(1)
    assert Conversation.objects.get(pk=conversation.pk).last_message.text == "Hello from Dana Whitfield"


def test_the_first_reply_takes_an_unassigned_conversation(pages, agent, other_agent):
    conversation = thread_with("Dana Whitfield", "+14155550123")
    alice = live(pages.open(agent, path=f"/inbox/{conversation.pk}/"))
    bob = live(pages.open(other_agent, path=f"/inbox/{conversation.pk}/"))
    expect(bob.locator("#assignment-warning")).to_be_hidden()
    bob.locator("#composer-text").fill("Hi Dana, Bob here.")
    bob.locator("#composer-text").press("Enter")
    expect(bob.locator("#thread-assignee")).to_have_text("Assigned to you", timeout=3000)
    expect(alice.locator("#thread-assignee")).to_have_text("Assigned to Bob", timeout=3000)
    expect(alice.locator("#message-list .activity-text")).to_have_text(["Assigned to Bob on their reply"])
    expect(alice.locator("#assignment-warning")).to_contain_text("Assigned to Bob – reply anyway?")


def test_snooze_presets_are_in_the_agents_time_zone_and_the_row_moves_to_snoozed(pages, agent):
    conversation = thread_with("Dana Whitfield", "+14155550123")
    tokyo = ZoneInfo("Asia/Tokyo")
    alice = live(pages.open(agent, path=f"/inbox/{conversation.pk}/", timezone_id="Asia/Tokyo"))
    expect(row(alice, conversation.pk)).to_be_visible()
    alice.locator("#composer-text").click()
    alice.locator("#composer-text").press("Escape")  # out of the composer: shortcuts apply
    alice.keyboard.press("z")
    menu = alice.locator(".thread-actions .snooze-menu")
    expect(menu.locator(".snooze-item").first).to_be_focused()
    alice.keyboard.press("ArrowDown")
    expect(menu.locator('[data-preset="tomorrow"]')).to_be_focused()
    alice.keyboard.press("Enter")

    expect(row(alice, conversation.pk)).to_have_count(0)  # left Open
    expect(alice.locator("#thread-snoozed")).to_contain_text("Snoozed until ")
    expect(alice.locator("#message-list .activity-text").last).to_contain_text("Snoozed by Alice until ")
    snoozed = Conversation.objects.get(pk=conversation.pk)
    tomorrow = (datetime.now(tokyo) + timedelta(days=1)).date()
    assert snoozed.status == "snoozed"
    assert snoozed.snoozed_until == datetime(tomorrow.year, tomorrow.month, tomorrow.day, 9, tzinfo=tokyo)

    alice.locator('.tab[data-status="snoozed"]').click()
    expect(row(alice, conversation.pk).locator(".snoozed-tag")).to_have_text(f"until {tomorrow:%a} 09:00")
    alice.click("#reopen")
    expect(row(alice, conversation.pk)).to_have_count(0)
    assert Conversation.objects.get(pk=conversation.pk).status == "open"


def test_bulk_resolve_with_shift_click_and_a_refusal_named(pages, agent, other_agent):
    conversations = [thread_with(f"Customer {n}", f"+1415555020{n}", minutes_ago=n) for n in range(5)]
    bobs = conversations[2]
    Conversation.objects.filter(pk=bobs.pk).update(assignee=other_agent)
    alice = live(pages.open(agent))
    bob = live(pages.open(other_agent))
    for conversation in conversations:
        expect(row(alice, conversation.pk)).to_be_visible()

    row(alice, conversations[0].pk).locator(".conv-select").click()
    row(alice, conversations[3].pk).locator(".conv-select").click(modifiers=["Shift"])
    expect(alice.locator("#bulk-count")).to_have_text("4 selected")
    expect(alice.locator("#conversation-list .conv.selected")).to_have_count(4)
    expect(alice.locator("#thread")).to_be_hidden()  # ticking a box opens nothing

    alice.click("#bulk-assign-me")
    expect(alice.locator("#bulk-result")).to_contain_text("Assigned 3.")
    expect(alice.locator("#bulk-result")).to_contain_text("Not changed: Customer 2: This conversation is assigned to a colleague")
    expect(alice.locator("#bulk-count")).to_have_text("1 selected")  # the refused one stays selected
    expect(row(alice, bobs.pk)).to_have_class("conv selected bulk-refused")

    # Select the rest again with the keyboard: x on a focused row, Shift+x for the range.
    row(alice, conversations[0].pk).focus()
    alice.keyboard.press("x")
    row(alice, conversations[3].pk).focus()
    alice.keyboard.press("Shift+X")
    expect(alice.locator("#bulk-count")).to_have_text("4 selected")
    alice.click("#bulk-resolve")  # resolving is anyone's to do: all four
    expect(alice.locator("#bulk-result")).to_contain_text("Resolved 4.")
    expect(alice.locator("#bulk-bar .bulk-count")).to_have_text("0 selected")
    for conversation in conversations[:4]:
        expect(row(alice, conversation.pk)).to_have_count(0)
        expect(row(bob, conversation.pk)).to_have_count(0, timeout=3000)  # live for the others too
    expect(row(alice, conversations[4].pk)).to_be_visible()
    assert sorted(Conversation.objects.filter(status="resolved").values_list("pk", flat=True)) == sorted(
        c.pk for c in conversations[:4]
    )
    assert Conversation.objects.get(pk=bobs.pk).assignee == other_agent


def test_bulk_label_adds_and_takes_off_and_a_colleague_sees_the_chips(pages, agent, other_agent):
    from conversations.models import Label

    Label.objects.create(name="billing", colour="#2563eb")
    conversations = [thread_with(f"Customer {n}", f"+1415555030{n}", minutes_ago=n) for n in range(3)]
    alice = live(pages.open(agent))
    bob = live(pages.open(other_agent))
    for conversation in conversations[:2]:
        row(alice, conversation.pk).locator(".conv-select").click()
    expect(alice.locator("#bulk-count")).to_have_text("2 selected")

    alice.select_option("#bulk-label", "add:billing")
    expect(alice.locator("#bulk-result")).to_contain_text('Added "billing" to 2.')
    for conversation in conversations[:2]:
        expect(row(alice, conversation.pk).locator(".label-chip")).to_have_text(["billing"])
        expect(row(bob, conversation.pk).locator(".label-chip")).to_have_text(["billing"], timeout=3000)
    expect(row(bob, conversations[2].pk).locator(".label-chip")).to_have_count(0)

    row(alice, conversations[0].pk).locator(".conv-select").click()
    alice.select_option("#bulk-label", "remove:billing")
    expect(alice.locator("#bulk-result")).to_contain_text('Took "billing" off 1.')
    expect(row(bob, conversations[0].pk).locator(".label-chip")).to_have_count(0, timeout=3000)
    assert list(Conversation.objects.filter(labels__name="billing").values_list("pk", flat=True)) == [conversations[1].pk]
    pages.check()
