"""OutboundJob becomes the one outbox (django-tasks and django-tasks-db are gone), with a
priority, report lookups, and the pacing buckets shared by the worker processes.

Queued work carries over as it is: a pending job was always the truth (its task row was only
the trigger), and workers now claim pending jobs directly, so every one stays sendable; an
in-flight one is judged by the recovery sweep when its lease expires; a retry waiting out its
backoff shows when it is due. Accepted sends still at
`sending` (no report ever came: they showed a clock for good) are looked up at Plivo by the
first sweep. The django-tasks-db table, its migration records and its content type are
dropped. Reversing this migration does not bring them back.
"""

from django.db import migrations, models
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

TASK_APP = "django_tasks_database"  # django_tasks_db's app label
TASK_TABLE = "django_tasks_database_dbtaskresult"


def carry_work_over(apps, schema_editor):
    OutboundJob = apps.get_model("conversations", "OutboundJob")
    Message = apps.get_model("conversations", "Message")
    OutboundJob.objects.filter(state="accepted", message__status="sending").update(report_due_at=timezone.now())
    # Retries already waiting show when they are due, like new ones.
    waiting = OutboundJob.objects.filter(message=models.OuterRef("pk"), state="pending", attempts__gt=0)
    Message.objects.filter(models.Exists(waiting)).update(
        next_attempt_at=models.Subquery(waiting.values("next_attempt_at")[:1]))


def drop_task_tables(apps, schema_editor):
    connection = schema_editor.connection
    if TASK_TABLE in connection.introspection.table_names():
        schema_editor.execute(f"DROP TABLE {schema_editor.quote_name(TASK_TABLE)}")
    MigrationRecorder(connection).migration_qs.filter(app=TASK_APP).delete()
    # Its content type and the permissions Django made for it.
    apps.get_model("contenttypes", "ContentType").objects.filter(app_label=TASK_APP).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0008_labels_and_canned_replies'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('auth', '0012_alter_user_first_name_max_length'),
    ]

    operations = [
        migrations.CreateModel(
            name='PlivoPacing',
            fields=[
                ('key', models.CharField(max_length=40, primary_key=True, serialize=False)),
                ('next_slot_at', models.DateTimeField()),
                ('paused_until', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.RemoveIndex(
            model_name='outboundjob',
            name='outbound_job_due',
        ),
        migrations.AddField(
            model_name='message',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='outboundjob',
            name='priority',
            field=models.PositiveSmallIntegerField(choices=[(0, 'Agent reply'), (10, 'Bulk (campaigns)')], default=0),
        ),
        migrations.AddField(
            model_name='outboundjob',
            name='report_due_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='outboundjob',
            name='report_lookups',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddIndex(
            model_name='outboundjob',
            index=models.Index(condition=models.Q(('state', 'pending')), fields=['priority', 'next_attempt_at', 'id'], name='outbound_job_due'),
        ),
        migrations.AddIndex(
            model_name='outboundjob',
            index=models.Index(condition=models.Q(('state__in', ['in_flight', 'unconfirmed'])), fields=['state', 'lease_expires_at'], name='outbound_job_open'),
        ),
        migrations.AddIndex(
            model_name='outboundjob',
            index=models.Index(condition=models.Q(('report_due_at__isnull', False)), fields=['report_due_at'], name='outbound_job_report_due'),
        ),
        migrations.AddConstraint(
            model_name='outboundjob',
            constraint=models.CheckConstraint(condition=models.Q(('state__in', ['pending', 'in_flight', 'accepted', 'unconfirmed', 'failed'])), name='outbound_job_state_valid'),
        ),
        migrations.RunPython(carry_work_over, migrations.RunPython.noop),
        migrations.RunPython(drop_task_tables, migrations.RunPython.noop),
    ]
