"""Create the "Agents" group, so the first real agents of a fresh deployment can be added to it
in the admin instead of staff having to guess its exact name (only seed_demo created it)."""

from django.db import migrations

AGENTS_GROUP = "Agents"  # conversations.permissions.AGENTS_GROUP, frozen as this migration knew it


def create_agents_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=AGENTS_GROUP)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("conversations", "0005_parley_refused_error_code"),
    ]

    # Reversing leaves the group: it may hold real users by then.
    operations = [migrations.RunPython(create_agents_group, migrations.RunPython.noop)]
