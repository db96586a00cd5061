"""The intake: Plivo's callback is committed as a receipt before the 200, and a webhook worker
applies receipts to the inbox. Nothing is lost between the two, nothing is applied twice."""

import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from conversations.models import Conversation, InboxEvent, Message
from webhooks import services
from webhooks.models import WebhookReceipt
from webhooks.services import receipts_apply, receipts_prune
from webhooks.tests.conftest import MESSAGE_PATH, load_fixture
from webhooks.tests.support import receipts_apply_all
from webhooks.worker import WebhookWorker

pytestmark = pytest.mark.django_db


def uuids(n):
    return [f"7c1e0000-0000-4000-8000-{i:012d}" for i in range(n)]


class TestAnswer:
    def test_200_means_the_callback_is_committed_and_the_worker_then_shows_it(self, webhooks):
        response = webhooks.inbound("sms", apply=False)
        assert response.status_code == 200 and response.content == b""
        receipt = WebhookReceipt.objects.get()
        assert (receipt.kind, receipt.dedupe_key, receipt.applied_at) == ("message", "2d55a8de-7c5b-11ee-a2a4-0242ac110004", None)
        assert receipt.params["Text"] == ["Hi, is my order #4521 on its way?"]
        assert not Message.objects.exists()

        assert receipts_apply() == 1
        assert Message.objects.get().text == "Hi, is my order #4521 on its way?"
        assert WebhookReceipt.objects.get().applied_at is not None

    def test_a_retry_while_the_first_copy_waits_is_one_receipt_and_one_message(self, webhooks):
        assert webhooks.inbound("sms", apply=False).status_code == 200
        assert webhooks.inbound("sms", apply=False).status_code == 200
        assert WebhookReceipt.objects.count() == 1
        receipts_apply_all()
        assert webhooks.inbound("sms").status_code == 200  # and a third, after it was applied
        assert Message.objects.count() == 1 and Conversation.objects.get().unread_count == 1

    def test_report_receipt_keeps_the_ref_of_its_status_url(self, webhooks):
        assert webhooks.status(ref=41, apply=False).status_code == 200
        receipt = WebhookReceipt.objects.get()
        assert receipt.kind == "status" and receipt.ref == "41"
        assert receipt.dedupe_key == "0b7d3e4f-7c5e-11ee-a1b2-0242ac120002:delivered:3"

    def test_refused_callbacks_leave_no_receipt(self, webhooks):
        assert webhooks.inbound("sms", MessageUUID=None, apply=False).status_code == 400
        params = load_fixture("sms")["params"]
        assert webhooks.post(MESSAGE_PATH, params, token="not-the-auth-token", apply=False).status_code == 403
        assert not WebhookReceipt.objects.exists()


class TestApplying:
    def test_receipts_are_applied_oldest_first(self, webhooks):
        for uuid, text in zip(uuids(3), ["first", "second", "third"]):
            webhooks.inbound("sms", MessageUUID=uuid, Text=text, apply=False)
        receipts_apply_all()
        assert list(Message.objects.order_by("id").values_list("text", flat=True)) == ["first", "second", "third"]
        assert Conversation.objects.get().last_message.text == "third"

    def test_a_message_applied_late_keeps_the_time_plivo_delivered_it(self, webhooks):
        """A worker that was down for hours must not stretch the WhatsApp 24-hour window."""
        webhooks.inbound("whatsapp_text", apply=False)
        delivered = timezone.now() - timedelta(hours=23, minutes=59)
        WebhookReceipt.objects.update(received_at=delivered)
        receipts_apply_all()
        message = Message.objects.select_related("conversation").get()
        assert message.created_at == delivered
        assert message.conversation.last_inbound_at == delivered == message.conversation.last_message_at

    def test_a_report_applied_late_keeps_the_time_plivo_reported_it(self, webhooks):
        from conversations.tests.factories import MessageFactory

        message = MessageFactory(direction="outbound", status="sending",
                                 plivo_message_uuid="0b7d3e4f-7c5e-11ee-a1b2-0242ac120002")
        webhooks.status(apply=False)
        reported = timezone.now() - timedelta(minutes=40)
        WebhookReceipt.objects.update(received_at=reported)
        receipts_apply_all()
        message.refresh_from_db()
        assert message.status == "delivered" and message.delivered_at == reported

    def test_a_receipt_that_cannot_be_applied_waits_and_retries_without_holding_up_the_rest(self, webhooks, monkeypatch):
        for uuid in uuids(3):
            webhooks.inbound("sms", MessageUUID=uuid, apply=False)
        real_apply = services.receipt_apply
        broken = uuids(3)[1]

        def apply_or_fail(receipt, **options):
            if receipt.dedupe_key == broken:
                raise RuntimeError("parser bug")
            real_apply(receipt, **options)

        monkeypatch.setattr(services, "receipt_apply", apply_or_fail)
        assert receipts_apply_all() == 3
        assert sorted(Message.objects.values_list("plivo_message_uuid", flat=True)) == [uuids(3)[0], uuids(3)[2]]
        failing = WebhookReceipt.objects.failing().get()
        assert failing.dedupe_key == broken and failing.attempts == 1 and "parser bug" in failing.last_error
        assert failing.next_attempt_at > timezone.now()
        assert receipts_apply() == 0  # it waits out its backoff

        monkeypatch.setattr(services, "receipt_apply", real_apply)  # fixed and deployed
        WebhookReceipt.objects.filter(pk=failing.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        assert receipts_apply() == 1
        assert Message.objects.count() == 3
        assert not WebhookReceipt.objects.pending().exists()

    def test_a_batch_reaches_the_sockets_in_one_push_without_the_events_of_a_receipt_that_failed(
        self, webhooks, monkeypatch, inbox_listener, django_capture_on_commit_callbacks
    ):
        for uuid in uuids(3):
            webhooks.inbound("sms", MessageUUID=uuid, apply=False)
        real_apply = services.receipt_apply

        def apply_then_fail_for_the_second(receipt, **options):
            real_apply(receipt, **options)  # writes the message and its event...
            if receipt.dedupe_key == uuids(3)[1]:
                raise RuntimeError("failed after writing")  # ...which roll back with it

        monkeypatch.setattr(services, "receipt_apply", apply_then_fail_for_the_second)
        with django_capture_on_commit_callbacks(execute=True):
            assert receipts_apply() == 3
        pushes = inbox_listener()
        assert len(pushes) == 1
        pushed = [(event["type"], event["payload"]["message"]["plivo_message_uuid"]) for event in pushes[0]["events"]]
        assert pushed == [("message.created", uuids(3)[0]), ("message.created", uuids(3)[2])]
        cursors = [event["cursor"] for event in pushes[0]["events"]]
        assert cursors == list(InboxEvent.objects.order_by("id").values_list("id", flat=True))

    def test_a_receipt_the_database_refuses_waits_without_blocking_the_queue(self, webhooks, monkeypatch):
        """A database error of the receipt's own (not a lost connection) fails only that receipt."""
        for uuid in uuids(2):
            webhooks.inbound("sms", MessageUUID=uuid, apply=False)
        real_apply = services.receipt_apply

        def refused_for_the_first(receipt, **options):
            if receipt.dedupe_key == uuids(2)[0]:  # an IntegrityError raised by the database itself
                WebhookReceipt.objects.create(kind=receipt.kind, dedupe_key=receipt.dedupe_key, params={})
            real_apply(receipt, **options)

        monkeypatch.setattr(services, "receipt_apply", refused_for_the_first)
        assert receipts_apply_all() == 2
        assert list(Message.objects.values_list("plivo_message_uuid", flat=True)) == [uuids(2)[1]]
        failing = WebhookReceipt.objects.failing().get()
        assert failing.dedupe_key == uuids(2)[0] and "IntegrityError" in failing.last_error

    def test_failing_again_backs_off_longer(self, webhooks, monkeypatch):
        webhooks.inbound("sms", apply=False)
        monkeypatch.setattr(services, "receipt_apply", lambda receipt, **options: 1 / 0)
        waits = []
        for _ in range(3):
            WebhookReceipt.objects.update(next_attempt_at=None)
            started = timezone.now()
            receipts_apply()
            waits.append((WebhookReceipt.objects.get().next_attempt_at - started).total_seconds())
        assert waits[0] < waits[1] < waits[2]
        assert WebhookReceipt.objects.get().attempts == 3

    def test_losing_the_database_mid_batch_rolls_the_batch_back_to_be_applied_later(self, webhooks, monkeypatch):
        for uuid in uuids(2):
            webhooks.inbound("sms", MessageUUID=uuid, apply=False)
        real_apply = services.receipt_apply
        calls = []

        def apply_then_lose_the_database(receipt, **options):
            calls.append(receipt.pk)
            if len(calls) == 2:
                raise OperationalError("server closed the connection unexpectedly")
            real_apply(receipt, **options)

        monkeypatch.setattr(services, "receipt_apply", apply_then_lose_the_database)
        with pytest.raises(OperationalError):
            receipts_apply()
        assert not Message.objects.exists()  # the first one's message rolled back with the batch
        assert WebhookReceipt.objects.pending().count() == 2
        assert not WebhookReceipt.objects.failing().exists()

        monkeypatch.setattr(services, "receipt_apply", real_apply)
        assert receipts_apply_all() == 2 and Message.objects.count() == 2

    def test_the_worker_command_applies_what_is_waiting_and_exits_when_idle(self, webhooks):
        for uuid in uuids(3):
            webhooks.inbound("sms", MessageUUID=uuid, apply=False)
        call_command("run_webhook_worker", "--until-idle", "--batch-size", "2")
        assert Message.objects.count() == 3 and not WebhookReceipt.objects.pending().exists()


class TestPruning:
    def test_old_applied_receipts_go_and_a_late_retry_of_one_changes_nothing(self, webhooks):
        webhooks.inbound("sms")
        webhooks.inbound("sms", MessageUUID=uuids(1)[0], apply=False)  # still waiting: kept whatever its age
        WebhookReceipt.objects.update(received_at=timezone.now() - timedelta(days=30))
        WebhookReceipt.objects.filter(applied_at__isnull=False).update(applied_at=timezone.now() - timedelta(days=30))
        assert receipts_prune(older_than=timedelta(days=7)) == 1
        assert list(WebhookReceipt.objects.values_list("dedupe_key", flat=True)) == [uuids(1)[0]]

        assert webhooks.inbound("sms").status_code == 200  # Plivo retries the pruned one
        assert Message.objects.filter(plivo_message_uuid="2d55a8de-7c5b-11ee-a2a4-0242ac110004").count() == 1
        assert Conversation.objects.get().unread_count == 2


@pytest.mark.django_db(transaction=True)
class TestWorker:
    def test_a_running_worker_applies_a_callback_within_moments_not_at_its_next_poll(self, webhooks):
        worker = WebhookWorker(interval=30)  # only a wake-up can make it this fast
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            time.sleep(0.3)  # let it reach its wait
            started = time.monotonic()
            assert webhooks.inbound("sms", apply=False).status_code == 200
            while not Message.objects.exists() and time.monotonic() - started < 5:
                time.sleep(0.01)
            assert Message.objects.exists()
            assert time.monotonic() - started < 2
        finally:
            worker.stop()
            thread.join(10)
        assert not thread.is_alive()


class TestAdmin:
    def test_staff_see_a_failing_receipt_and_can_retry_it_now(self, webhooks, client, staff, monkeypatch):
        webhooks.inbound("sms", apply=False)
        monkeypatch.setattr(services, "receipt_apply", lambda receipt, **options: 1 / 0)
        receipts_apply()
        client.force_login(staff)
        page = client.get("/admin/webhooks/webhookreceipt/?state=failing")
        assert page.status_code == 200 and b"2d55a8de-7c5b-11ee-a2a4-0242ac110004" in page.content
        receipt = WebhookReceipt.objects.get()
        response = client.post("/admin/webhooks/webhookreceipt/", {"action": "retry_now", "_selected_action": [receipt.pk]})
        assert response.status_code == 302
        receipt.refresh_from_db()
        assert receipt.next_attempt_at <= timezone.now()
