"""A send's uuid being stored while a delivery report for it is parked must not deadlock."""

import threading

import pytest
from django.db import connection, transaction

from conversations.models import Message, OutboundJob, SendAttempt
from conversations.outbound import SendOutcome, outcome_record
from conversations.services.delivery_reports import uuid_lock
from conversations.tests.outbound_support import open_conversation

UUID = "5b40a428-bfc7-4daf-9d06-726c558bf3b8"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_accepted_send_and_a_report_for_its_uuid_at_the_same_moment_both_commit():
    message = Message.objects.create(conversation=open_conversation(), direction="outbound", status="sending", text="hi")
    job = OutboundJob.objects.create(message=message, state=OutboundJob.State.IN_FLIGHT, attempts=1)
    attempt = SendAttempt.objects.create(message=message, number=1)
    report_holds_uuid_lock = threading.Event()
    errors = []

    def report_side():
        # What status_report_apply does for a report that names our ref but an unknown uuid:
        # lock the uuid, then write the message row.
        try:
            with transaction.atomic():
                uuid_lock(UUID)
                report_holds_uuid_lock.set()
                threading.Event().wait(0.3)  # the worker's update happens meanwhile
                Message.objects.filter(pk=message.pk).update(error_message="report side was here")
        except Exception as exc:  # a deadlock shows up here or in the worker
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=report_side)
    thread.start()
    assert report_holds_uuid_lock.wait(5)
    try:
        outcome_record(job=job, attempt=attempt, outcome=SendOutcome(kind="accepted", plivo_message_uuid=UUID, http_status=202))
    except Exception as exc:
        errors.append(exc)
    thread.join(10)

    assert errors == []
    message.refresh_from_db()
    job.refresh_from_db()
    assert message.plivo_message_uuid == UUID and job.state == OutboundJob.State.ACCEPTED
