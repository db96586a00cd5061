"""A fresh database has the "Agents" group that the inbox's permission check looks for."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group

from conversations.permissions import AGENTS_GROUP

pytestmark = pytest.mark.django_db

migration = importlib.import_module("conversations.migrations.0006_agents_group")


def test_migrations_create_the_agents_group():
    assert Group.objects.filter(name=AGENTS_GROUP).exists()


def test_the_migration_names_the_group_the_permission_check_uses():
    Group.objects.filter(name=AGENTS_GROUP).delete()
    migration.create_agents_group(apps, None)
    migration.create_agents_group(apps, None)  # re-running it changes nothing
    assert Group.objects.filter(name=AGENTS_GROUP).count() == 1
