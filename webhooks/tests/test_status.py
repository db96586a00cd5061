"""Delivery reports: forward-only, deduplicated, matched even before the send's uuid is stored."""

import pytest
from django.utils import timezone

from conversations import events
from conversations.models import Contact, InboxEvent, Message, MessageStatusEvent, OutboundJob
from conversations.plivo_errors import explain_error_code
from conversations.services.delivery_reports import status_events_attach
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

UUID = "0b7d3e4f-7c5e-11ee-a1b2-0242ac120002"  # the uuid in status_delivered.json


@pytest.fixture
def conversation():
    return ConversationFactory(contact=ContactFactory(phone="+14155550123"), channel="whatsapp")


@pytest.fixture
def sent_message(conversation):
    return MessageFactory(conversation=conversation, direction="outbound", status="sending", plivo_message_uuid=UUID)


def report(webhooks, status, sequence=None, *, ref=None, error_code="", uuid=UUID):
    response = webhooks.status(ref=ref, Status=status, Sequence=sequence if sequence is not None else "",
                               ErrorCode=error_code, MessageUUID=uuid)
    assert response.status_code == 200 and response.content == b""
    return response


def updates_published():
    return InboxEvent.objects.filter(type="message.updated").count()


class TestForwardOnly:
    def test_delivered_report_moves_the_message_and_is_kept_in_its_history(self, webhooks, sent_message):
        report(webhooks, "delivered", 3)
        sent_message.refresh_from_db()
        assert sent_message.status == "delivered" and sent_message.status_sequence == 3
        assert sent_message.delivered_at is not None
        event = MessageStatusEvent.objects.get()
        assert (event.message_id, event.status, event.sequence, event.applied) == (sent_message.pk, "delivered", 3, True)
        assert event.raw_payload["MCC"] == "310"
        assert updates_published() == 1

    @pytest.mark.parametrize("sequences", [(4, 3), (None, None)], ids=["with-sequence", "without-sequence"])
    def test_a_late_delivered_after_read_is_kept_but_changes_nothing_but_its_time(self, webhooks, sent_message, sequences):
        report(webhooks, "read", sequences[0])
        report(webhooks, "delivered", sequences[1])
        sent_message.refresh_from_db()
        assert sent_message.status == "read" and sent_message.status_sequence == sequences[0]
        assert sent_message.read_at and sent_message.delivered_at  # the late report's step is still dated
        assert list(MessageStatusEvent.objects.values_list("status", "applied")) == [("read", True), ("delivered", False)]

    @pytest.mark.parametrize("sequences", [(2, 1), (None, None), (2, None)], ids=["with-sequence", "without", "mixed"])
    def test_failure_is_final_and_a_late_sent_does_not_resurrect_it(self, webhooks, sent_message, sequences):
        report(webhooks, "failed", sequences[0], error_code="30")
        report(webhooks, "sent", sequences[1])
        sent_message.refresh_from_db()
        assert sent_message.status == "failed" and sent_message.error_code == "30"
        assert "spam" in sent_message.error_message

    def test_delivered_cannot_turn_into_failed_with_a_lower_sequence(self, webhooks, sent_message):
        report(webhooks, "delivered", 3)
        report(webhooks, "undelivered", 2, error_code="80")
        sent_message.refresh_from_db()
        assert sent_message.status == "delivered" and sent_message.error_code == ""

    def test_plivo_queued_means_accepted_and_never_moves_a_sent_message_back(self, webhooks, conversation):
        queued = MessageFactory(conversation=conversation, direction="outbound", status="queued", plivo_message_uuid="q-1")
        sent = MessageFactory(conversation=conversation, direction="outbound", status="sent", plivo_message_uuid="q-2")
        report(webhooks, "queued", 1, uuid="q-1")
        report(webhooks, "queued", 1, uuid="q-2")
        queued.refresh_from_db(), sent.refresh_from_db()
        assert (queued.status, sent.status) == ("sending", "sent")

    def test_unknown_status_is_kept_in_the_history_only(self, webhooks, sent_message):
        report(webhooks, "expired", 5)
        sent_message.refresh_from_db()
        assert sent_message.status == "sending"
        assert MessageStatusEvent.objects.get().status == "expired"

    def test_report_about_an_inbound_message_changes_nothing(self, webhooks, conversation):
        inbound = MessageFactory(conversation=conversation, direction="inbound", plivo_message_uuid=UUID)
        report(webhooks, "delivered", 3)
        inbound.refresh_from_db()
        assert inbound.status == "received" and MessageStatusEvent.objects.get().message_id == inbound.pk

    def test_status_report_without_a_status_is_refused(self, webhooks, sent_message):
        response = webhooks.status(Status=None)
        assert response.status_code == 400 and response.json()["error"]["field"] == "Status"
        assert MessageStatusEvent.objects.count() == 0


class TestDuplicates:
    def test_repeated_report_is_stored_once_and_published_once(self, webhooks, sent_message, django_capture_on_commit_callbacks):
        report(webhooks, "delivered", 3)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            report(webhooks, "delivered", 3)
        assert callbacks == []
        assert MessageStatusEvent.objects.count() == 1 and updates_published() == 1

    def test_change_is_published_only_after_commit(
        self, webhooks, sent_message, monkeypatch, django_capture_on_commit_callbacks
    ):
        pushes = []
        monkeypatch.setattr(events, "group_send", lambda group, message: pushes.append(message))
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            report(webhooks, "sent", 2)
        assert callbacks and pushes == []  # waiting for the commit
        for callback in callbacks:  # the commit
            callback()
        [push] = pushes
        assert [event["payload"]["message"]["status"] for event in push["events"]] == ["sent"]
        assert InboxEvent.objects.get().data["message"]["status"] == "sent"

    def test_last_message_status_change_also_updates_the_conversation(self, webhooks, sent_message, conversation):
        conversation.last_message = sent_message
        conversation.save()
        report(webhooks, "delivered", 3)
        event = InboxEvent.objects.get(type="conversation.updated")
        assert event.data["conversation"]["last_message"]["status"] == "delivered"

    def test_message_and_conversation_change_reach_the_sockets_in_one_push_in_cursor_order(
        self, webhooks, sent_message, conversation, inbox_listener, django_capture_on_commit_callbacks
    ):
        conversation.last_message = sent_message
        conversation.save()
        with django_capture_on_commit_callbacks(execute=True):
            report(webhooks, "read", 4)
        pushes = inbox_listener()
        assert len(pushes) == 1
        pushed = [(event["type"], event["cursor"]) for event in pushes[0]["events"]]
        assert pushed == list(InboxEvent.objects.order_by("id").values_list("type", "id"))
        assert [event_type for event_type, _ in pushed] == ["message.updated", "conversation.updated"]
        message_event, conversation_event = pushes[0]["events"]
        assert message_event["payload"]["message"]["status"] == "read"
        assert conversation_event["payload"]["conversation"]["last_message"]["status"] == "read"

    def test_a_report_that_changes_nothing_visible_publishes_nothing(self, webhooks, sent_message):
        report(webhooks, "read", 4)
        report(webhooks, "sent", 2)  # sets sent_at: visible
        report(webhooks, "sent", 2)  # duplicate
        report(webhooks, "queued", 1)  # Plivo's queued has no timestamp of ours and changes nothing
        assert updates_published() == 2


class TestErrors:
    def test_error_code_is_stored_with_a_plain_explanation(self, webhooks, sent_message):
        report(webhooks, "undelivered", 3, error_code="80")
        sent_message.refresh_from_db()
        assert sent_message.status == "undelivered" and sent_message.failed_at is not None
        assert sent_message.error_code == "80" and sent_message.error_message == explain_error_code("80")
        assert "unreachable" in sent_message.error_message

    def test_error_200_marks_the_recipient_opted_out_of_that_channel(self, webhooks):
        conversation = ConversationFactory(contact=ContactFactory(phone="+14155550123"), channel="sms")
        message = MessageFactory(conversation=conversation, direction="outbound", status="sending",
                                 plivo_message_uuid="1c8e4f50-7c5e-11ee-a1b2-0242ac120002")
        assert webhooks.status(fixture="status_failed_opted_out").status_code == 200
        message.refresh_from_db()
        contact = Contact.objects.get()
        assert message.status == "failed" and message.error_code == "200"
        assert "opted out" in message.error_message
        assert contact.sms_opted_out_at is not None and contact.whatsapp_opted_out_at is None
        assert InboxEvent.objects.filter(type="contact.updated").count() == 1

    def test_unknown_code_still_gets_an_explanation(self, webhooks, sent_message):
        report(webhooks, "failed", 2, error_code="131047")
        sent_message.refresh_from_db()
        assert sent_message.error_code == "131047" and "131047" in sent_message.error_message


class TestUnconfirmedSends:
    def test_any_report_confirms_an_unconfirmed_send(self, webhooks, sent_message):
        Message.objects.filter(pk=sent_message.pk).update(
            unconfirmed_since=timezone.now(), error_code="unconfirmed", error_message="Plivo did not answer in time")
        job = OutboundJob.objects.create(message=sent_message, state="unconfirmed")
        report(webhooks, "queued", 1)
        sent_message.refresh_from_db(), job.refresh_from_db()
        assert sent_message.unconfirmed_since is None and sent_message.error_code == sent_message.error_message == ""
        assert job.state == "accepted"
        assert InboxEvent.objects.get().data["message"]["unconfirmed"] is False

    def test_a_failure_report_settles_an_unconfirmed_job_as_failed(self, webhooks, sent_message):
        job = OutboundJob.objects.create(message=sent_message, state="unconfirmed")
        report(webhooks, "rejected", 2, error_code="100")
        job.refresh_from_db()
        assert job.state == "failed" and "carrier refused" in job.last_error

    def test_a_job_in_another_state_is_left_to_the_worker(self, webhooks, sent_message):
        job = OutboundJob.objects.create(message=sent_message, state="in_flight")
        report(webhooks, "sent", 2)
        job.refresh_from_db()
        assert job.state == "in_flight"

    def test_a_real_report_overturns_our_guess_that_it_may_not_have_been_sent(self, webhooks, conversation):
        guessed = MessageFactory(conversation=conversation, direction="outbound", status="failed",
                                 failed_at=timezone.now(), error_code="unconfirmed", error_message="may not have been sent")
        report(webhooks, "delivered", 3, ref=guessed.pk)
        guessed.refresh_from_db()
        assert guessed.status == "delivered" and guessed.plivo_message_uuid == UUID
        assert guessed.failed_at is None and guessed.error_code == ""


class TestReportBeforeMessage:
    def test_report_matched_by_ref_before_the_uuid_was_stored(self, webhooks, conversation):
        message = MessageFactory(conversation=conversation, direction="outbound", status="sending", plivo_message_uuid=None)
        report(webhooks, "sent", 2, ref=message.pk)
        message.refresh_from_db()
        assert message.plivo_message_uuid == UUID and message.status == "sent"
        assert MessageStatusEvent.objects.get().message_id == message.pk

    def test_report_without_ref_is_parked_then_applied_when_the_uuid_is_stored(self, webhooks, conversation):
        report(webhooks, "delivered", 3)
        parked = MessageStatusEvent.objects.get()
        assert parked.message is None and not parked.applied
        message = MessageFactory(conversation=conversation, direction="outbound", status="sending", plivo_message_uuid=None)
        # What the outbound worker does once Plivo's response arrives:
        Message.objects.filter(pk=message.pk).update(plivo_message_uuid=UUID)
        message.refresh_from_db()
        assert status_events_attach(message=message) is True
        message.refresh_from_db(), parked.refresh_from_db()
        assert message.status == "delivered" and parked.message_id == message.pk and parked.applied
        # Calling it again finds nothing left to do and publishes nothing.
        published = updates_published()
        assert status_events_attach(message=message) is False and updates_published() == published

    def test_parked_reports_and_a_later_ref_report_are_applied_together(self, webhooks, conversation):
        message = MessageFactory(conversation=conversation, direction="outbound", status="sending", plivo_message_uuid=None)
        report(webhooks, "read", 4)  # no ref: parked
        report(webhooks, "sent", 2, ref=message.pk)
        message.refresh_from_db()
        assert message.status == "read" and message.sent_at and message.read_at
        assert set(MessageStatusEvent.objects.values_list("message_id", flat=True)) == {message.pk}
        assert updates_published() == 1

    def test_ref_that_is_not_one_of_our_sends_parks_the_report(self, webhooks, conversation):
        inbound = MessageFactory(conversation=conversation, direction="inbound")
        report(webhooks, "sent", 2, ref=inbound.pk)
        report(webhooks, "delivered", 3, ref=999999)
        assert list(MessageStatusEvent.objects.values_list("message_id", flat=True)) == [None, None]
        inbound.refresh_from_db()
        assert inbound.plivo_message_uuid is None

    def test_late_report_of_an_earlier_send_stays_history_after_a_retry(self, webhooks, conversation):
        message = MessageFactory(conversation=conversation, direction="outbound", status="sending", plivo_message_uuid=None)
        report(webhooks, "failed", 2, ref=message.pk, error_code="20")
        # The agent retries: the message is queued again without a uuid (as message_retry does).
        Message.objects.filter(pk=message.pk).update(status="queued", plivo_message_uuid=None, error_code="", failed_at=None)
        report(webhooks, "undelivered", 3, ref=message.pk, error_code="20")
        message.refresh_from_db()
        assert message.status == "queued" and message.plivo_message_uuid is None
        assert MessageStatusEvent.objects.filter(message=message).count() == 2

    def test_attach_without_a_uuid_does_nothing(self, conversation):
        message = MessageFactory(conversation=conversation, direction="outbound", status="queued", plivo_message_uuid=None)
        assert status_events_attach(message=message) is False
