"""Names that hold one meaning: "payload" is the Plivo webhook's; a message's structured part
and an event's data get their own names (the REST API and inbox events still say "payload")."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0003_inbox_event_pruning"),
    ]

    operations = [
        migrations.RenameField(model_name="message", old_name="payload", new_name="structured"),
        migrations.RenameField(model_name="inboxevent", old_name="payload", new_name="data"),
    ]
