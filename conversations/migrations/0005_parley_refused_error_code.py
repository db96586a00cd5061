"""Messages Parley itself refused to send were stored with the code "plivo_refused", as if
Plivo had refused them; they get "parley_refused". Their reason text is unchanged."""

from django.db import migrations


def rename_code(apps, schema_editor, *, old="plivo_refused", new="parley_refused"):
    apps.get_model("conversations", "Message").objects.filter(error_code=old).update(error_code=new)


def restore_code(apps, schema_editor):
    rename_code(apps, schema_editor, old="parley_refused", new="plivo_refused")


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0004_message_structured_inboxevent_data"),
    ]

    operations = [migrations.RunPython(rename_code, restore_code)]
