"""A message Parley will not send is refused before anything is stored or queued."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from conversations.models import Contact, Conversation, InboxEvent, Message, OutboundJob
from conversations.outbound import message_send
from messaging_site.errors import ApplicationError
from conversations.services.contacts import contact_opt_out
from conversations.tests.factories import MessageTemplateFactory
from conversations.tests.outbound_support import closed_conversation, open_conversation

pytestmark = pytest.mark.django_db


def assert_nothing_stored():
    assert not Message.objects.exists()
    assert not OutboundJob.objects.exists()
    assert not InboxEvent.objects.exists()


def refused(**kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        message_send(**kwargs)
    assert_nothing_stored()
    return info.value


@pytest.fixture
def template():
    return MessageTemplateFactory(name="order_update", language="en_US", body="Hi {{1}}, order {{2}} is ready.")


# --- the message and its job (the queue) are one transaction -------------------------------------
def test_queued_message_has_exactly_one_job_due_now_as_an_agent_reply():
    message, _ = message_send(conversation=open_conversation(), kind="text", text="Hi")
    job = OutboundJob.objects.get()
    assert job.message == message and job.state == "pending" and job.attempts == 0
    assert job.next_attempt_at <= timezone.now() and job.priority == OutboundJob.Priority.REPLY
    assert list(InboxEvent.objects.values_list("type", flat=True)) == ["message.created"]


def test_rolled_back_transaction_leaves_neither_message_nor_job():
    conversation = open_conversation()
    with pytest.raises(RuntimeError), transaction.atomic():
        message_send(conversation=conversation, kind="text", text="Hi")
        assert Message.objects.count() == OutboundJob.objects.count() == 1
        raise RuntimeError("the caller's transaction fails after queueing")
    assert_nothing_stored()
    conversation.refresh_from_db()
    assert conversation.last_message_id is None


# --- WhatsApp's 24-hour window and opt-outs -------------------------------------------------------
@pytest.mark.parametrize("kind,extra", [
    ("text", {"text": "Hi"}),
    ("media", {"media_urls": ["https://cdn.example.com/a.jpg"]}),
    ("location", {"location": {"latitude": "1", "longitude": "2", "name": "Shop", "address": "Main St 1"}}),
    ("interactive", {"interactive": {"type": "button", "body": {"text": "Ok?"},
                                     "action": {"buttons": [{"id": "y", "title": "Yes"}]}}}),
])
def test_free_form_whatsapp_outside_the_window_is_refused_naming_the_fix(kind, extra):
    conversation = closed_conversation()
    error = refused(conversation=conversation, kind=kind, **extra)
    assert error.code == "window_closed"
    assert "Send an approved template instead" in error.message


def test_free_form_to_a_brand_new_whatsapp_number_is_refused_and_creates_nothing():
    error = refused(to="+14155550123", channel="whatsapp", kind="text", text="Hi")
    assert error.code == "window_closed"
    assert not Contact.objects.exists() and not Conversation.objects.exists()


def test_template_is_accepted_outside_the_window(template):
    message, created = message_send(conversation=closed_conversation(), kind="template", template={
        "name": "order_update", "language": "en_US", "parameters": {"body": ["Ada", "A-17"]}})
    assert created and message.text == "Hi Ada, order A-17 is ready."
    assert message.structured["template"]["name"] == "order_update"


def test_window_rule_does_not_apply_to_sms():
    message, created = message_send(conversation=closed_conversation(channel="sms"), kind="text", text="Hi")
    assert created


def test_window_is_open_just_before_24_hours():
    conversation = open_conversation(last_inbound_at=timezone.now() - timedelta(hours=23, minutes=59))
    assert message_send(conversation=conversation, kind="text", text="Hi")[1]


@pytest.mark.parametrize("channel", ["whatsapp", "sms"])
def test_opted_out_contact_is_refused(channel, template):
    conversation = open_conversation(channel=channel)
    contact_opt_out(contact=conversation.contact, channel=channel, reason="STOP")
    InboxEvent.objects.all().delete()
    error = refused(conversation=conversation, kind="text", text="Hi")
    assert error.code == "opted_out"
    if channel == "whatsapp":  # a template does not get around an opt-out either
        assert refused(conversation=conversation, kind="template", template={
            "name": "order_update", "language": "en_US", "parameters": {"body": ["a", "b"]}}).code == "opted_out"


def test_opt_out_on_one_channel_does_not_block_the_other():
    conversation = open_conversation(channel="sms")
    contact_opt_out(contact=conversation.contact, channel="whatsapp", reason="STOP")
    assert message_send(conversation=conversation, kind="text", text="Hi")[1]


# --- destination ---------------------------------------------------------------------------------
@pytest.mark.parametrize("to,reason", [
    ("", "A phone number is required."),
    ("hello", "This is not a phone number."),
    ("+1 415 555", "wrong length"),
    ("+44 7700 900123", "does not exist in its country's numbering plan"),
    ("+14155550100", "Parley's own numbers"),
])
def test_invalid_destination_is_refused_with_the_reason(to, reason):
    error = refused(to=to, channel="sms", kind="text", text="Hi")
    assert (error.code, error.field) == ("invalid_phone", "to")
    assert reason in error.message


# --- content rules -------------------------------------------------------------------------------
@pytest.mark.parametrize("channel,limit", [("whatsapp", 4096), ("sms", 1600)])
def test_text_length_limits(channel, limit):
    conversation = open_conversation(channel=channel)
    assert message_send(conversation=conversation, kind="text", text="x" * limit)[1]
    Message.objects.all().delete()
    OutboundJob.objects.all().delete()
    InboxEvent.objects.all().delete()
    error = refused(conversation=conversation, kind="text", text="x" * (limit + 1))
    assert error.code == "too_long" and f"the limit is {limit}" in error.message


def test_empty_text_is_refused():
    assert refused(conversation=open_conversation(), kind="text", text="   ").code == "required"


@pytest.mark.parametrize("url", ["ftp://example.com/a.jpg", "javascript:alert(1)", "file:///etc/passwd", "/relative.jpg"])
def test_media_urls_must_be_http(url):
    error = refused(conversation=open_conversation(), kind="media", media_urls=[url])
    assert (error.code, error.field) == ("invalid_media_url", "media_urls.0")


def test_whatsapp_takes_one_media_file_and_mms_ten():
    urls = [f"https://cdn.example.com/{n}.jpg" for n in range(11)]
    assert refused(conversation=open_conversation(), kind="media", media_urls=urls[:2]).code == "too_many_media"
    assert refused(conversation=open_conversation(channel="sms"), kind="media", media_urls=urls).code == "too_many_media"


@pytest.mark.parametrize("kind,extra", [
    ("template", {"template": {"name": "order_update", "language": "en_US"}}),
    ("location", {"location": {"latitude": "1", "longitude": "2", "name": "Shop", "address": "Main St 1"}}),
    ("interactive", {"interactive": {"type": "button", "body": {"text": "?"}, "action": {"buttons": [{"title": "Y"}]}}}),
])
def test_whatsapp_only_kinds_are_refused_over_sms(kind, extra, template):
    error = refused(conversation=open_conversation(channel="sms"), kind=kind, **extra)
    assert error.code == "unsupported_for_channel"


# --- templates -----------------------------------------------------------------------------------
def test_unknown_template_is_refused_naming_existing_languages(template):
    error = refused(conversation=closed_conversation(), kind="template",
                    template={"name": "order_update", "language": "de", "parameters": {"body": ["a", "b"]}})
    assert error.code == "template_not_found" and "It exists in: en_US" in error.message


@pytest.mark.parametrize("status", ["PENDING", "REJECTED", "PAUSED", "DISABLED"])
def test_template_that_is_not_approved_is_refused(status):
    MessageTemplateFactory(name="promo", language="en", status=status, body="Sale!")
    error = refused(conversation=closed_conversation(), kind="template", template={"name": "promo", "language": "en"})
    assert error.code == "template_not_approved"


@pytest.mark.parametrize("parameters,field,message", [
    ({"body": ["Ada"]}, "template.parameters.body", "The template's body takes 2 parameters; 1 given."),
    ({"body": ["Ada", "A-17", "x"]}, "template.parameters.body", "takes 2 parameters; 3 given"),
    ({"body": ["Ada", ""]}, "template.parameters.body.1", "non-empty"),
    ({"header": ["x"], "body": ["Ada", "A-17"]}, "template.parameters.header", "header takes 0 parameters; 1 given"),
    ({"body": ["Ada", "A-17"], "buttons": {"0": ["x"]}}, "template.parameters.buttons.0", "takes no parameters"),
])
def test_template_parameter_counts_must_match(template, parameters, field, message):
    error = refused(conversation=closed_conversation(), kind="template",
                    template={"name": "order_update", "language": "en_US", "parameters": parameters})
    assert error.field == field and message in error.message


def test_template_url_button_and_media_header_parameters_are_checked():
    MessageTemplateFactory(name="invoice", language="en", header_type="image", body="Thanks {{1}}",
                           buttons=[{"type": "url", "text": "Pay", "url": "https://pay.example.com/{{1}}"}])
    base = {"name": "invoice", "language": "en"}
    missing_button = refused(conversation=closed_conversation(), kind="template", template={
        **base, "parameters": {"header": ["https://cdn.example.com/i.png"], "body": ["Ada"]}})
    assert missing_button.field == "template.parameters.buttons.0"
    bad_media = refused(conversation=closed_conversation(), kind="template", template={
        **base, "parameters": {"header": ["not a url"], "body": ["Ada"], "buttons": {"0": ["inv1"]}}})
    assert bad_media.code == "invalid_media_url"


# --- interactive ---------------------------------------------------------------------------------
def buttons(n, title="Option"):
    return {"type": "button", "body": {"text": "Choose"},
            "action": {"buttons": [{"id": f"b{i}", "title": f"{title} {i}"[:50]} for i in range(n)]}}


def test_at_most_three_reply_buttons():
    assert message_send(conversation=open_conversation(), kind="interactive", interactive=buttons(3))[1]
    Message.objects.all().delete(), InboxEvent.objects.all().delete()
    error = refused(conversation=open_conversation(), kind="interactive", interactive=buttons(4))
    assert error.code == "too_many_buttons" and "at most 3 reply buttons" in error.message


def test_button_titles_are_at_most_20_characters():
    error = refused(conversation=open_conversation(), kind="interactive",
                    interactive=buttons(1, title="A very long button title"))
    assert (error.code, error.field) == ("too_long", "interactive.action.buttons.0.title")


def test_lists_have_at_most_ten_rows_in_all():
    sections = [{"title": f"S{s}", "rows": [{"id": f"{s}-{r}", "title": f"Row {r}"} for r in range(6)]} for s in range(2)]
    error = refused(conversation=open_conversation(), kind="interactive",
                    interactive={"type": "list", "body": {"text": "Pick"}, "action": {"sections": sections}})
    assert error.code == "too_many_rows"


def test_cta_url_needs_one_http_button():
    error = refused(conversation=open_conversation(), kind="interactive", interactive={
        "type": "cta_url", "body": {"text": "Open"}, "action": {"buttons": [{"title": "Go", "cta_url": "javascript:x"}]}})
    assert error.field == "interactive.action.buttons.0.cta_url"


@pytest.mark.parametrize("location,field", [
    ({"latitude": "91", "longitude": "0"}, "location.latitude"),
    ({"latitude": "0", "longitude": "north"}, "location.longitude"),
    ({"latitude": "0", "longitude": "0", "address": "Main St 1"}, "location.name"),
    ({"latitude": "0", "longitude": "0", "name": "Shop", "address": ""}, "location.address"),
])
def test_location_coordinates_name_and_address_are_checked_before_anything_is_stored(location, field):
    assert refused(conversation=open_conversation(), kind="location", location=location).field == field


# --- idempotency ---------------------------------------------------------------------------------
def test_same_idempotency_key_returns_the_first_message(agent):
    conversation = open_conversation()
    first, created = message_send(conversation=conversation, kind="text", text="Hi", sent_by=agent, idempotency_key="k-1")
    again, created_again = message_send(conversation=conversation, kind="text", text="Hi", sent_by=agent, idempotency_key="k-1")
    assert created and not created_again and again.pk == first.pk
    assert Message.objects.count() == OutboundJob.objects.count() == 1


def test_replay_is_returned_even_after_the_window_closed(agent):
    conversation = open_conversation()
    first, _ = message_send(conversation=conversation, kind="text", text="Hi", sent_by=agent, idempotency_key="k-1")
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=2))
    again, created = message_send(conversation=conversation, kind="text", text="Hi", sent_by=agent, idempotency_key="k-1")
    assert (again.pk, created) == (first.pk, False)


def test_idempotency_keys_are_per_sender(agent, other_agent):
    conversation = open_conversation()
    message_send(conversation=conversation, kind="text", text="Hi", sent_by=agent, idempotency_key="k-1")
    _, created = message_send(conversation=conversation, kind="text", text="Hi", sent_by=other_agent, idempotency_key="k-1")
    assert created and Message.objects.count() == 2


def test_reusing_a_key_for_a_different_message_is_refused(agent):
    message_send(conversation=open_conversation(), kind="text", text="Hi", sent_by=agent, idempotency_key="k-1")
    with pytest.raises(ApplicationError) as info:
        message_send(conversation=open_conversation(), kind="text", text="Hi", sent_by=agent, idempotency_key="k-1")
    assert (info.value.code, info.value.status) == ("idempotency_key_reused", 409)
    assert Message.objects.count() == 1


def test_reusing_a_key_for_a_different_text_is_refused(agent):
    conversation = open_conversation()
    message_send(conversation=conversation, kind="text", text="Hi", sent_by=agent, idempotency_key="k-1")
    with pytest.raises(ApplicationError) as info:
        message_send(conversation=conversation, kind="text", text="Something else", sent_by=agent, idempotency_key="k-1")
    assert info.value.code == "idempotency_key_reused"
