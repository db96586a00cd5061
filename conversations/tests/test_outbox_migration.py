"""The outbox migration: work queued under django-tasks carries over, and its task table goes."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from conversations.models import MessageStatus
from conversations.outbound import outbound_job_process

TASK_TABLE = "django_tasks_database_dbtaskresult"


def outbox_migration() -> tuple[list, list]:
    """(the state just before the outbox migration, just after it), whatever its number."""
    loader = MigrationLoader(connection)
    key = next(key for key in loader.disk_migrations if key[0] == "conversations" and key[1].endswith("_outbox_engine"))
    return list(loader.disk_migrations[key].dependencies), [key]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def latest_schema_afterwards():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_queued_work_stays_sendable_and_the_task_table_is_dropped(fake_plivo, latest_schema_afterwards):
    before, after = outbox_migration()
    old = migrate(before)
    # A deployment of the django-tasks days: its table, migration records and content type.
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {TASK_TABLE} (id varchar(64) PRIMARY KEY, status varchar(10))")
        cursor.execute(f"INSERT INTO {TASK_TABLE} VALUES ('t1', 'READY')")
    MigrationRecorder(connection).record_applied("django_tasks_database", "0001_initial")
    old.get_model("contenttypes", "ContentType").objects.create(app_label="django_tasks_database", model="dbtaskresult")

    Contact, Conversation = old.get_model("conversations", "Contact"), old.get_model("conversations", "Conversation")
    Message, OutboundJob = old.get_model("conversations", "Message"), old.get_model("conversations", "OutboundJob")
    conversation = Conversation.objects.create(contact=Contact.objects.create(phone="+14155550123"), channel="sms")

    def outbound(status, **job):
        message = Message.objects.create(conversation=conversation, direction="outbound", status=status, text="Hi",
                                         created_at=timezone.now())
        OutboundJob.objects.create(message=message, **job)
        return message.pk

    queued = outbound("queued", state="pending")
    retrying_at = timezone.now() + timezone.timedelta(seconds=30)
    retrying = outbound("queued", state="pending", attempts=1, next_attempt_at=retrying_at)
    silent = outbound("sending", state="accepted", attempts=1)
    Message.objects.filter(pk=silent).update(plivo_message_uuid="never-reported")

    new = migrate(after)
    assert TASK_TABLE not in connection.introspection.table_names()
    assert not MigrationRecorder(connection).migration_qs.filter(app="django_tasks_database").exists()
    assert not new.get_model("contenttypes", "ContentType").objects.filter(app_label="django_tasks_database").exists()
    jobs = new.get_model("conversations", "OutboundJob").objects
    assert jobs.get(message_id=queued).priority == 0  # an agent's reply, as everything was
    assert jobs.get(message_id=silent).report_due_at is not None  # looked up at Plivo by the next sweep
    assert new.get_model("conversations", "Message").objects.get(pk=retrying).next_attempt_at == retrying_at

    from conversations.models import Message as CurrentMessage

    assert outbound_job_process(message_id=queued) == "accepted"
    assert CurrentMessage.objects.get(pk=queued).status == MessageStatus.SENDING
    assert outbound_job_process(message_id=retrying) is None  # the retry waits its 30 s
    assert len(fake_plivo.sends()) == 1
