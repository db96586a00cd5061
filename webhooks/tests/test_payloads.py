"""Parsing captured-shape Plivo payloads: every kind lands in the right fields, nothing is dropped."""

import pytest

from messaging_site.errors import ApplicationError
from webhooks.payloads import Fields, InboundPayload, StatusReport
from webhooks.tests.conftest import load_fixture


def parse(name, **changes):
    params = load_fixture(name)["params"]
    params.update(changes)
    return InboundPayload.from_params(params)


def test_sms_text_comes_from_text_and_numbers_become_e164():
    payload = parse("sms")
    assert (payload.channel, payload.kind, payload.text) == ("sms", "text", "Hi, is my order #4521 on its way?")
    assert payload.from_number == "+14155550123"
    assert payload.message_uuid == "2d55a8de-7c5b-11ee-a2a4-0242ac110004"
    assert payload.media == [] and payload.structured == {}


def test_mms_keeps_every_picture_in_order_with_its_type():
    payload = parse("mms")
    assert (payload.channel, payload.kind, payload.text) == ("sms", "media", "Here is the damaged box")
    assert [item["content_type"] for item in payload.media] == ["image/jpeg", "image/png"]
    assert payload.media[0]["url"].endswith("/Media/1.jpg") and payload.media[1]["url"].endswith("/Media/2.png")


def test_whatsapp_text_comes_from_body_with_the_profile_name():
    payload = parse("whatsapp_text")
    assert (payload.channel, payload.kind, payload.text) == ("whatsapp", "text", "Hello! Can I change my delivery address?")
    assert payload.profile_name == "Dana Whitfield"


def test_whatsapp_media_is_zero_based_with_its_mime_type_and_caption():
    payload = parse("whatsapp_media")
    assert payload.kind == "media" and payload.text == "receipt attached"
    assert payload.media == [{"url": "https://media.plivo.com/Account/MAXXXXXXXXXXXXXXXXXX/WhatsApp/b0e5/Media/0",
                              "content_type": "application/pdf"}]


@pytest.mark.parametrize("fixture, text, payload_value", [
    ("whatsapp_button", "Yes, reschedule", "reschedule:order-4521"),
    ("whatsapp_button_form", "No, keep the date", "keep:order-4521"),
])
def test_button_reply_nested_json_or_dotted_form_keys(fixture, text, payload_value):
    payload = parse(fixture)
    assert payload.kind == "button_reply" and payload.text == text
    assert payload.structured["button"] == {"text": text, "payload": payload_value}
    assert payload.structured["raw"]["MessageUUID"] == payload.message_uuid


def test_button_reply_carries_the_message_it_answers():
    assert parse("whatsapp_button").reply_to_plivo_uuid == "f2b1c9a0-7c5d-11ee-8e3b-0242ac120002"


def test_list_reply_sent_as_a_json_string_inside_a_form_field():
    payload = parse("whatsapp_list_reply")
    assert payload.kind == "list_reply" and payload.text == "Tuesday 10:00"
    assert payload.structured["list_reply"] == {"id": "slot-2", "title": "Tuesday 10:00", "description": "Morning delivery window"}


def test_list_reply_as_dotted_keys_like_the_simulator_sends():
    params = {"From": "14155550123", "To": "14155550100", "Type": "whatsapp", "MessageUUID": "u-1",
              "ContentType": "interactive", "Interactive.Type": "list_reply",
              "Interactive.ListReply.Id": "a", "Interactive.ListReply.Title": "Option A"}
    payload = InboundPayload.from_params(params)
    assert payload.kind == "list_reply" and payload.structured["list_reply"]["id"] == "a"


def test_interactive_button_reply_in_meta_spelling():
    params = {"From": "14155550123", "To": "14155550100", "Type": "whatsapp", "MessageUUID": "u-2",
              "ContentType": "interactive",
              "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes please"}}}
    payload = InboundPayload.from_params(params)
    assert payload.kind == "button_reply" and payload.text == "Yes please"
    assert payload.structured["button"] == {"id": "yes", "text": "Yes please"}


def test_reply_context_is_kept_as_the_quoted_uuid():
    payload = parse("whatsapp_reply_context")
    assert payload.kind == "text" and payload.reply_to_plivo_uuid == "e5f1a3b2-7c5c-11ee-b962-0242ac120002"


def test_location_pin():
    payload = parse("whatsapp_location")
    assert payload.kind == "location"
    assert payload.structured["location"] == {"latitude": "37.7793", "longitude": "-122.4193", "name": "City Hall",
                                              "address": "1 Dr Carlton B Goodlett Pl, San Francisco"}
    assert payload.text == "City Hall, 1 Dr Carlton B Goodlett Pl, San Francisco"


def test_unknown_type_is_kept_as_unsupported_with_its_raw_fields():
    payload = parse("whatsapp_unknown")
    assert payload.kind == "unsupported"
    assert payload.structured["content_type"] == "unknown"
    assert payload.structured["raw"]["MessageUUID"] == "a7b3c5d4-7c5c-11ee-b962-0242ac120002"


@pytest.mark.parametrize("content_type", ["reaction", "poll", "sticker", "button", "location", "interactive"])
def test_a_type_without_the_fields_we_understand_is_unsupported_not_dropped(content_type):
    payload = parse("whatsapp_text", ContentType=content_type, Body="")
    assert payload.kind == "unsupported" and payload.structured["raw"]["ContentType"] == content_type


def test_media_links_that_are_not_http_are_not_rendered():
    payload = parse("whatsapp_media", Media0="javascript:alert(1)")
    assert payload.media == [] and payload.kind == "unsupported"
    assert payload.structured["raw"]["Media0"] == "javascript:alert(1)"


def test_missing_type_is_read_from_the_whatsapp_number(settings):
    settings.PLIVO_WHATSAPP_NUMBER, settings.PLIVO_SMS_NUMBER = "+14155550100", "+14155550199"
    assert parse("whatsapp_text", Type="", ContentType="").channel == "whatsapp"
    assert parse("sms", Type="").channel == "sms"


@pytest.mark.parametrize("field", ["MessageUUID", "From", "To"])
def test_missing_required_field_names_it(field):
    params = load_fixture("sms")["params"]
    del params[field]
    with pytest.raises(ApplicationError) as error:
        InboundPayload.from_params(params)
    assert error.value.field == field and field in error.value.message


def test_sender_that_is_not_a_phone_number_is_refused_with_the_reason():
    with pytest.raises(ApplicationError) as error:
        parse("sms", From="ACME")
    assert error.value.field == "From"


def test_status_report_fields():
    report = StatusReport.from_params(load_fixture("status_failed_opted_out")["params"], ref="41")
    assert (report.status, report.sequence, report.error_code, report.ref) == ("failed", 2, "200", 41)


@pytest.mark.parametrize("sequence, expected", [("7", 7), ("", None), ("x", None), ("-1", None)])
def test_status_sequence_is_an_integer_or_absent(sequence, expected):
    params = {**load_fixture("status_delivered")["params"], "Sequence": sequence}
    assert StatusReport.from_params(params).sequence == expected


@pytest.mark.parametrize("ref", ["abc", "", "1; drop table", None])
def test_a_ref_that_is_not_our_id_is_ignored(ref):
    assert StatusReport.from_params(load_fixture("status_delivered")["params"], ref=ref).ref is None


def test_status_report_without_status_names_the_field():
    params = load_fixture("status_delivered")["params"]
    del params["Status"]
    with pytest.raises(ApplicationError) as error:
        StatusReport.from_params(params)
    assert error.value.field == "Status"


def test_field_lookup_ignores_case_and_separators():
    fields = Fields({"context": {"message_uuid": "x"}, "Button.Payload": ["p"]})
    assert fields.get("Context.MessageUUID") == "x" and fields.get("button.payload") == "p"
