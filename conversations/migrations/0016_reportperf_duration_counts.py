from django.db import migrations, models


def counts_fill(apps, schema_editor):
    """Count the durations already rolled up, day by day (a rebuild would recount everything)."""
    from conversations.reports.percentiles import bucket_of

    Duration = apps.get_model("conversations", "ReportDuration")
    DurationCount = apps.get_model("conversations", "ReportDurationCount")
    counts = {}
    for day, kind, channel, agent_id, labels, seconds in Duration.objects.values_list(
            "day", "kind", "channel", "agent_id", "labels", "seconds").iterator(chunk_size=20000):
        bucket = bucket_of(seconds)
        for label_id in (0, *set(labels or ())):
            key = (day, channel, agent_id, label_id, kind, bucket)
            counts[key] = counts.get(key, 0) + 1
    DurationCount.objects.bulk_create(
        [DurationCount(day=day, channel=channel, agent_id=agent_id, label_id=label_id, kind=kind, bucket=bucket,
                       count=count) for (day, channel, agent_id, label_id, kind, bucket), count in counts.items()],
        batch_size=5000,
    )


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0015_campaigns"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReportDurationCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("channel", models.CharField(max_length=16)),
                ("agent_id", models.IntegerField()),
                ("label_id", models.IntegerField()),
                ("kind", models.PositiveSmallIntegerField(choices=[(1, "First response"), (2, "First response (business hours)"), (3, "Resolution"), (4, "Resolution (business hours)")])),
                ("bucket", models.PositiveSmallIntegerField()),
                ("count", models.PositiveIntegerField()),
            ],
            options={
                "indexes": [models.Index(fields=["label_id", "kind", "day"], include=("channel", "agent_id", "bucket", "count"), name="report_duration_count_range")],
                "constraints": [models.UniqueConstraint(fields=("day", "channel", "agent_id", "label_id", "kind", "bucket"), name="report_duration_count_unique")],
            },
        ),
        migrations.RunPython(counts_fill, migrations.RunPython.noop),
    ]
