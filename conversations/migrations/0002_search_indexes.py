"""PostgreSQL search indexes for the inbox search box (skipped on SQLite, which scans)."""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVector
from django.db import migrations
from django.db.models.functions import Upper

MESSAGE_TEXT_SEARCH = GinIndex(SearchVector("text", config="simple"), name="msg_text_search")
CONTACT_NAME_TRIGRAM = GinIndex(OpClass(Upper("display_name"), name="gin_trgm_ops"), name="contact_name_trgm")
CONTACT_PHONE_TRIGRAM = GinIndex(OpClass("phone", name="gin_trgm_ops"), name="contact_phone_trgm")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.add_index(apps.get_model("conversations", "Message"), MESSAGE_TEXT_SEARCH)
    schema_editor.add_index(apps.get_model("conversations", "Contact"), CONTACT_NAME_TRIGRAM)
    schema_editor.add_index(apps.get_model("conversations", "Contact"), CONTACT_PHONE_TRIGRAM)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.remove_index(apps.get_model("conversations", "Message"), MESSAGE_TEXT_SEARCH)
    schema_editor.remove_index(apps.get_model("conversations", "Contact"), CONTACT_NAME_TRIGRAM)
    schema_editor.remove_index(apps.get_model("conversations", "Contact"), CONTACT_PHONE_TRIGRAM)


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
