"""Labels and canned replies in the inbox, end to end in real Chromium (two agents where
working together is the point). Every page is watched for CSP violations and script errors."""

import pytest

from conversations.models import CannedReply, Conversation, Label, Message
from conversations.tests.factories import MessageTemplateFactory
from conversations.tests.test_inbox_browser import row, whatsapp_conversation

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def live(*pages):
    for page in pages:
        expect(page.locator("#connection")).to_have_text("Live")


def test_an_agent_labels_with_the_keyboard_and_a_colleague_sees_it_live(pages, agent, other_agent):
    Label.objects.create(name="billing", colour="#2563eb")
    Label.objects.create(name="vip", colour="#fde68a")
    conversation = whatsapp_conversation()
    alice = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    bob = pages.open(other_agent)
    live(alice, bob)
    expect(alice.locator("#thread-name")).to_have_text("Dana Whitfield")

    alice.keyboard.press("l")
    expect(alice.locator("#label-filter")).to_be_focused()
    alice.keyboard.type("bil")
    expect(alice.locator("#label-options .label-option")).to_have_count(1)
    alice.keyboard.press("Enter")
    expect(alice.locator("#thread-labels .label-chip")).to_have_text(["billing"])
    expect(row(alice, conversation.pk).locator(".label-chip")).to_have_text(["billing"])
    expect(row(bob, conversation.pk).locator(".label-chip")).to_have_text(["billing"], timeout=3000)

    for _ in "bil":
        alice.keyboard.press("Backspace")
    expect(alice.locator("#label-options .label-option")).to_have_count(2)
    alice.keyboard.press("ArrowDown")
    alice.keyboard.press("ArrowDown")
    expect(alice.locator('#label-options [data-name="vip"]')).to_be_focused()
    alice.keyboard.press(" ")
    expect(alice.locator('#label-options [data-name="vip"]')).to_have_attribute("aria-checked", "true")
    alice.keyboard.press("Escape")
    expect(alice.locator("#label-picker")).to_be_hidden()
    expect(alice.locator("#edit-labels")).to_be_focused()
    expect(row(bob, conversation.pk).locator(".label-chip")).to_have_text(["billing", "vip"], timeout=3000)

    # The colour comes through the CSSOM (no CSP violation), with ink that reads on it.
    chips = alice.locator("#thread-labels .label-chip")
    expect(chips.nth(0)).to_have_css("background-color", "rgb(37, 99, 235)")
    expect(chips.nth(1)).to_have_css("color", "rgb(27, 36, 48)")
    assert sorted(Conversation.objects.get(pk=conversation.pk).labels.values_list("name", flat=True)) == ["billing", "vip"]
    assert list(Message.objects.filter(kind="activity").order_by("id").values_list("text", flat=True)) == [
        "Labels: +billing", "Labels: +vip"
    ]

    # Bob takes one off from his page; Alice's header follows.
    row(bob, conversation.pk).click()
    bob.click("#edit-labels")
    bob.click('#label-options [data-name="billing"]')
    expect(alice.locator("#thread-labels .label-chip")).to_have_text(["vip"], timeout=3000)


def test_the_list_filters_by_label_and_follows_label_changes_live(pages, agent, other_agent):
    billing = Label.objects.create(name="billing", colour="#2563eb")
    labelled = whatsapp_conversation(name="Ann", phone="+14155550301", hours_since_inbound=1)
    labelled.labels.add(billing)
    other = whatsapp_conversation(name="Ben", phone="+14155550302", hours_since_inbound=2)
    alice = pages.open(agent)
    bob = pages.open(other_agent, path=f"/inbox/{other.pk}/")
    live(alice, bob)
    expect(alice.locator("#conversation-list .conv")).to_have_count(2)

    alice.select_option("#label-filter-select", label="billing")
    expect(alice.locator("#conversation-list .conv")).to_have_count(1)
    expect(row(alice, labelled.pk)).to_be_visible()
    expect(alice.locator("[data-count=all]")).to_have_text("1")

    bob.click("#edit-labels")
    bob.click('#label-options [data-name="billing"]')
    expect(row(alice, other.pk)).to_be_visible(timeout=3000)  # now labelled: it joins the filtered list
    expect(alice.locator("[data-count=all]")).to_have_text("2", timeout=5000)
    bob.click('#label-options [data-name="billing"]')
    expect(row(alice, other.pk)).to_have_count(0, timeout=3000)

    alice.select_option("#label-filter-select", label="All labels")
    expect(alice.locator("#conversation-list .conv")).to_have_count(2)


def test_a_hostile_label_name_is_shown_as_text_everywhere(pages, agent):
    hostile = '<img src=x onerror="window.__xss=1">vip'
    conversation = whatsapp_conversation()
    conversation.labels.add(Label.objects.create(name=hostile, colour="#111111"))
    page = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    live(page)
    expect(row(page, conversation.pk).locator(".label-chip")).to_have_text([hostile])
    expect(page.locator("#thread-labels .label-chip")).to_have_text([hostile])
    expect(page.locator("#label-filter-select option").nth(1)).to_have_text(hostile)
    page.click("#edit-labels")
    expect(page.locator("#label-options .label-chip")).to_have_text([hostile])
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("window.__xss") == 0


def test_slash_opens_canned_replies_filtered_as_you_type_and_inserts_one_filled(pages, agent):
    CannedReply.objects.create(shortcut="refund", title="Refund policy", text="Hi {{contact.name}}, refunds take 5 days. {{agent.name}}")
    CannedReply.objects.create(shortcut="refund-late", title="Late refund", text="Sorry {{contact.name}}, we are chasing it.")
    CannedReply.objects.create(shortcut="hours", title="Opening hours", text="We open at 9.")
    conversation = whatsapp_conversation()
    page = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    live(page)
    composer = page.locator("#composer-text")
    options = page.locator("#canned-options .canned-option")

    composer.click()
    page.keyboard.type("/")
    expect(page.locator("#canned-picker")).to_be_visible()
    expect(options).to_have_count(3)
    page.keyboard.press("Escape")  # closes the picker, keeps the text and the focus
    expect(page.locator("#canned-picker")).to_be_hidden()
    expect(composer).to_have_value("/")
    expect(composer).to_be_focused()

    page.keyboard.type("ref")
    expect(page.locator("#canned-picker")).to_be_visible()
    expect(options.locator(".canned-shortcut")).to_have_text(["/refund", "/refund-late"])
    expect(options.first).to_contain_text("Hi Dana Whitfield, refunds take 5 days. Alice")  # filled in the preview
    page.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowUp")
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    expect(page.locator("#canned-picker")).to_be_hidden()
    expect(composer).to_have_value("Hi Dana Whitfield, refunds take 5 days. Alice")
    assert not Message.objects.filter(direction="outbound").exists()  # inserting is not sending

    page.keyboard.press("Enter")
    sent = page.locator("#message-list .msg.out[data-id]")
    expect(sent.locator(".msg-text")).to_have_text(["Hi Dana Whitfield, refunds take 5 days. Alice"])
    assert Message.objects.get(direction="outbound").text == "Hi Dana Whitfield, refunds take 5 days. Alice"


def test_enter_on_a_slash_word_without_a_match_sends_nothing(pages, agent):
    CannedReply.objects.create(shortcut="hours", title="Opening hours", text="We open at 9.")
    conversation = whatsapp_conversation()
    page = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    live(page)
    page.locator("#composer-text").click()
    page.keyboard.type("/refnd")
    page.keyboard.press("Enter")
    expect(page.locator("#canned-empty")).to_have_text("No canned reply matches “refnd”.")
    expect(page.locator("#composer-text")).to_have_value("/refnd")
    expect(page.locator("#message-list .msg.out")).to_have_count(0)
    assert not Message.objects.filter(direction="outbound").exists()


def test_with_the_window_closed_the_canned_picker_says_only_templates_can_be_sent(pages, agent):
    CannedReply.objects.create(shortcut="hours", title="Opening hours", text="We open at 9.")
    MessageTemplateFactory(name="order_update", body="Hi {{1}}, your order {{2}} has shipped.")
    conversation = whatsapp_conversation(hours_since_inbound=30)
    page = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    live(page)
    expect(page.locator("#composer")).to_have_attribute("data-mode", "template-only")
    page.click("#open-canned")
    expect(page.locator("#canned-notice")).to_contain_text("only an approved template can be sent")
    expect(page.locator("#canned-options .canned-option")).to_have_count(0)
    page.keyboard.press("Enter")  # on "Choose a template"
    expect(page.locator("#template-dialog")).to_be_visible()
    expect(page.locator("#canned-picker")).to_be_hidden()


def test_labels_and_canned_replies_work_at_phone_width(pages, agent):
    Label.objects.create(name="billing", colour="#2563eb")
    CannedReply.objects.create(shortcut="hours", title="Opening hours", text="We open at 9, {{contact.name}}.")
    conversation = whatsapp_conversation()
    page = pages.open(agent, path=f"/inbox/{conversation.pk}/", viewport=(390, 800))
    live(page)
    page.click("#edit-labels")
    picker = page.locator("#label-picker").bounding_box()
    assert picker["x"] >= 0 and picker["x"] + picker["width"] <= 390
    page.click('#label-options [data-name="billing"]')
    expect(page.locator("#thread-labels .label-chip")).to_have_text(["billing"])
    page.click("#label-close")
    page.click("#open-canned")  # an empty reply: the button starts "/"
    expect(page.locator("#composer-text")).to_have_value("/")
    expect(page.locator("#canned-options .canned-option")).to_have_count(1)
    canned = page.locator("#canned-picker").bounding_box()
    assert canned["x"] >= 0 and canned["x"] + canned["width"] <= 390
    page.click("#canned-options .canned-option")
    expect(page.locator("#composer-text")).to_have_value("We open at 9, Dana Whitfield.")


def test_staff_rename_and_delete_a_label_in_the_admin_and_open_inboxes_follow(pages, agent, staff):
    # bulk_create: no save signal, so nothing is pushed from the test's own thread (Playwright's loop runs there)
    [label] = Label.objects.bulk_create([Label(name="billing", colour="#2563eb")])
    conversation = whatsapp_conversation()
    conversation.labels.add(label)
    alice = pages.open(agent, path=f"/inbox/{conversation.pk}/")
    live(alice)
    expect(alice.locator("#thread-labels .label-chip")).to_have_text(["billing"])
    admin = pages.open(staff, path=f"/admin/conversations/label/{label.pk}/change/")

    admin.fill("#id_name", "Invoices")
    admin.click("input[name=_save]")
    expect(admin.locator(".messagelist")).to_contain_text("Invoices")

    expect(alice.locator("#thread-labels .label-chip")).to_have_text(["Invoices"], timeout=3000)
    expect(row(alice, conversation.pk).locator(".label-chip")).to_have_text(["Invoices"])
    expect(alice.locator("#label-filter-select option")).to_have_text(["All labels", "Invoices"])

    admin.goto(f"{pages.server.url}/admin/conversations/label/{label.pk}/delete/")
    admin.click("#content form input[type=submit]")
    expect(alice.locator("#thread-labels .label-chip")).to_have_count(0, timeout=3000)
    expect(alice.locator("#label-filter-select option")).to_have_text(["All labels"])
    pages.check()  # the admin pages too: no CSP violation, no missing favicon
