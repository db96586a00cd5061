"""Real concurrency on PostgreSQL: identical webhooks at the same instant, racing reports."""

import threading

import pytest
from django.db import connection, transaction
from django.test import Client

from conversations.models import Contact, Conversation, InboxEvent, Message, MessageStatusEvent
from conversations.services.delivery_reports import status_events_attach, status_report_apply
from conversations.services.inbound import message_receive
from conversations.tests.factories import ContactFactory, ConversationFactory, MessageFactory
from webhooks.models import WebhookReceipt
from webhooks.payloads import InboundPayload, StatusReport
from webhooks.signing import sign_v3
from webhooks.tests.conftest import ACCOUNT_TOKEN, MESSAGE_PATH, PUBLIC_BASE_URL, STATUS_PATH, load_fixture
from webhooks.tests.support import receipts_apply_all

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 12


def at_once(*calls):
    """Run each callable in its own thread, released together; returns their results."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:  # surfaced below, with the thread's own error
            errors.append(exc)
        finally:
            connection.close()  # give the pooled connection back

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def signed_post(path, params):
    """A request as Plivo sends it, pre-signed so every thread posts exactly the same bytes."""
    headers = sign_v3(url=PUBLIC_BASE_URL + path, params=params, auth_token=ACCOUNT_TOKEN)
    from urllib.parse import urlencode
    body = urlencode(params)
    return lambda: Client().post(path, data=body, content_type="application/x-www-form-urlencoded", headers=headers).status_code


def workers_at_once(count=THREADS):
    """`count` webhook workers applying what was received, all at the same instant."""
    return at_once(*[lambda: receipts_apply_all(limit=1)] * count)


def test_identical_inbound_webhooks_at_the_same_instant_store_exactly_one_message():
    params = load_fixture("whatsapp_text")["params"]
    post = signed_post(MESSAGE_PATH, params)
    assert at_once(*[post] * THREADS) == [200] * THREADS
    assert WebhookReceipt.objects.count() == 1
    assert sum(workers_at_once()) == 1
    assert Message.objects.count() == 1
    assert InboxEvent.objects.filter(type="message.created").count() == 1
    assert Contact.objects.count() == 1 and Conversation.objects.get().unread_count == 1


def test_one_message_applied_by_many_workers_at_once_is_stored_once():
    """The database, not the receipt, stops a duplicate: e.g. a retry that arrives after its
    first receipt was pruned, applied while the original is being applied."""
    payload = InboundPayload.from_params(load_fixture("whatsapp_text")["params"])
    results = at_once(*[lambda: message_receive(payload=payload)[1]] * THREADS)
    assert sorted(results) == [False] * (THREADS - 1) + [True]
    assert Message.objects.count() == 1
    assert InboxEvent.objects.filter(type="message.created").count() == 1
    assert Conversation.objects.get().unread_count == 1


def test_first_messages_from_a_new_number_at_once_share_one_contact_and_thread():
    posts = [signed_post(MESSAGE_PATH, {**load_fixture("sms")["params"], "MessageUUID": f"burst-{n}"}) for n in range(THREADS)]
    assert at_once(*posts) == [200] * THREADS
    assert sum(workers_at_once()) == THREADS
    assert WebhookReceipt.objects.pending().count() == 0
    assert Message.objects.count() == THREADS
    assert Contact.objects.count() == 1 and Conversation.objects.count() == 1
    assert Conversation.objects.get().unread_count == THREADS


def test_identical_reports_at_once_are_stored_and_published_once():
    params = load_fixture("status_delivered")["params"]
    ConversationFactory(contact=ContactFactory(phone="+14155550123"))
    message = MessageFactory(direction="outbound", status="sending", plivo_message_uuid=params["MessageUUID"])
    post = signed_post(STATUS_PATH, params)
    assert at_once(*[post] * THREADS) == [200] * THREADS
    workers_at_once()
    report = StatusReport.from_params(params)
    at_once(*[lambda: status_report_apply(report=report)] * THREADS)  # and once more, all at once
    assert MessageStatusEvent.objects.count() == 1
    assert InboxEvent.objects.filter(type="message.updated").count() == 1
    message.refresh_from_db()
    assert message.status == "delivered"


def test_racing_reports_never_move_a_message_backwards():
    base = load_fixture("status_delivered")["params"]
    message = MessageFactory(direction="outbound", status="sending", plivo_message_uuid=base["MessageUUID"])
    lifecycle = [("queued", "1"), ("sent", "2"), ("delivered", "3"), ("read", "4")]
    reports = [StatusReport.from_params({**base, "Status": status, "Sequence": sequence}) for status, sequence in lifecycle]
    at_once(*[lambda report=report: status_report_apply(report=report) for report in reports * 3])
    message.refresh_from_db()
    assert (message.status, message.status_sequence) == ("read", 4)
    assert message.sent_at and message.delivered_at and message.read_at
    assert MessageStatusEvent.objects.count() == 4


def test_racing_report_webhooks_applied_by_racing_workers_end_read():
    base = load_fixture("status_delivered")["params"]
    message = MessageFactory(direction="outbound", status="sending", plivo_message_uuid=base["MessageUUID"])
    lifecycle = [("queued", "1"), ("sent", "2"), ("delivered", "3"), ("read", "4")]
    posts = [signed_post(STATUS_PATH, {**base, "Status": status, "Sequence": sequence}) for status, sequence in lifecycle]
    assert at_once(*(posts * 3)) == [200] * 12
    assert sum(workers_at_once(4)) == 4
    message.refresh_from_db()
    assert (message.status, message.status_sequence) == ("read", 4)
    assert MessageStatusEvent.objects.count() == 4


@pytest.mark.parametrize("round_", range(10))
def test_report_parked_while_the_send_response_is_stored_is_never_missed(round_):
    """The report (no ref) and the worker storing the uuid race; one of them must apply it."""
    params = {**load_fixture("status_delivered")["params"], "MessageUUID": f"race-{round_}"}
    message = MessageFactory(direction="outbound", status="sending", plivo_message_uuid=None)
    assert at_once(signed_post(STATUS_PATH, params)) == [200]

    def response_stored():
        with transaction.atomic():
            Message.objects.filter(pk=message.pk).update(plivo_message_uuid=params["MessageUUID"])
            stored = Message.objects.get(pk=message.pk)
            status_events_attach(message=stored)

    at_once(lambda: receipts_apply_all(limit=1), response_stored)
    message.refresh_from_db()
    assert message.status == "delivered"
    assert MessageStatusEvent.objects.get().message_id == message.pk
