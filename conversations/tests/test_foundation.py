"""Settings, system checks, the demo seed and the event log: what every other part stands on."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from channels.layers import get_channel_layer
from asgiref.sync import async_to_sync
from django.core import checks
from django.core.management import call_command

from conversations import events
from conversations.apps import check_plivo_settings
from conversations.models import Contact, Conversation, InboxEvent, MessageTemplate
from conversations.tests.factories import ConversationFactory
from conversations.tests.support import broadcast

ROOT = Path(__file__).resolve().parents[2]


def run_settings(env_overrides: dict, code: str = "from django.conf import settings; settings.INSTALLED_APPS") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLIVO_", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"))}
    env.update({"DJANGO_SETTINGS_MODULE": "messaging_site.settings", **env_overrides})
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


class TestSettings:
    def test_production_refuses_to_start_without_a_secret_key(self):
        result = run_settings({"DEBUG": "false"})
        assert result.returncode != 0
        assert "SECRET_KEY must be set when DEBUG is off" in result.stderr

    def test_simulator_cannot_be_switched_on_in_production(self):
        result = run_settings({"DEBUG": "false", "SECRET_KEY": "x" * 60, "PLIVO_SIMULATOR": "true"})
        assert result.returncode != 0
        assert "PLIVO_SIMULATOR can only be switched on together with DEBUG" in result.stderr

    def test_postgres_url_uses_psycopg_with_a_connection_pool(self):
        result = run_settings(
            {"DEBUG": "true", "DATABASE_URL": "postgres://u:p@db.example:5432/parley"},
            "from django.conf import settings; d = settings.DATABASES['default']; "
            "print(d['ENGINE'], d['NAME'], d['CONN_MAX_AGE'], sorted(d['OPTIONS']['pool']))",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["django.db.backends.postgresql", "parley", "0", "['max_size',", "'min_size',", "'timeout']"]

    def test_redis_url_switches_the_channel_layer(self):
        result = run_settings(
            {"DEBUG": "true", "REDIS_URL": "redis://cache.example:6379/3"},
            "from channels.layers import get_channel_layer; from channels_redis.core import RedisChannelLayer; "
            "layer = get_channel_layer(); pool = layer.create_pool(0); "
            "print(isinstance(layer, RedisChannelLayer), type(pool).__name__, pool.connection_kwargs['host'], "
            "pool.connection_kwargs['socket_timeout'] > layer.brpop_timeout)",
        )
        # A read timeout at or under the layer's blocking pop closes every idle socket (issue 11).
        assert result.stdout.split() == ["True", "BlockingConnectionPool", "cache.example", "True"], result.stderr


class TestPlivoCredentialsCheck:
    def test_missing_credentials_warn_in_debug(self, settings):
        settings.DEBUG = True
        settings.PLIVO_AUTH_ID = ""
        problems = check_plivo_settings()
        assert [p.id for p in problems if "PLIVO_AUTH_ID" in p.msg] == ["parley.W001"]
        assert all(p.level == checks.WARNING for p in problems)

    def test_missing_credentials_are_an_error_in_production(self, settings):
        settings.DEBUG = False
        settings.PLIVO_AUTH_TOKEN = ""
        problems = check_plivo_settings()
        assert "parley.E001" in [p.id for p in problems]
        assert all(p.level >= checks.ERROR for p in problems)

    def test_complete_production_settings_pass(self, settings):
        settings.DEBUG = False
        settings.PUBLIC_BASE_URL = "https://parley.example.com"
        assert check_plivo_settings() == []


@pytest.mark.django_db
class TestDemoSeed:
    def test_seeding_twice_creates_everything_once(self, settings):
        settings.DEBUG = True
        call_command("seed_demo", stdout=open(os.devnull, "w"))
        counts = (Contact.objects.count(), Conversation.objects.count(), MessageTemplate.objects.count())
        call_command("seed_demo", stdout=open(os.devnull, "w"))
        assert (Contact.objects.count(), Conversation.objects.count(), MessageTemplate.objects.count()) == counts
        assert counts[1] >= 12
        assert set(Conversation.objects.values_list("status", flat=True)) == {"open", "pending", "resolved"}
        assert MessageTemplate.objects.filter(status="APPROVED").count() >= 3

    def test_refuses_to_seed_published_passwords_in_production(self, settings):
        from django.core.management.base import CommandError

        settings.DEBUG = False
        with pytest.raises(CommandError):
            call_command("seed_demo")


@pytest.mark.django_db(transaction=True)
class TestEventLog:
    def test_event_is_logged_with_a_cursor_and_pushed_only_after_commit(self, settings):
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
        layer = get_channel_layer()
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(events.INBOX_GROUP, channel)
        conversation = ConversationFactory()

        from django.db import transaction

        with transaction.atomic():
            first = broadcast(events.conversation_updated_event(conversation))
            second = broadcast(events.conversation_updated_event(conversation))
            assert receive_or_none(layer, channel) is None
        received = [async_to_sync(layer.receive)(channel) for _ in range(2)]
        assert second.id > first.id
        pushed = [event for message in received for event in message["events"]]
        assert [event["cursor"] for event in pushed] == [first.id, second.id]
        assert pushed[0]["payload"]["conversation"]["id"] == conversation.id

    def test_rolled_back_change_publishes_nothing(self, settings):
        from django.db import transaction

        conversation = ConversationFactory()
        with pytest.raises(RuntimeError), transaction.atomic():
            broadcast(events.conversation_updated_event(conversation))
            raise RuntimeError
        assert not InboxEvent.objects.exists()


def receive_or_none(layer, channel, timeout=0.1):
    async def receive():
        try:
            return await asyncio.wait_for(layer.receive(channel), timeout)
        except asyncio.TimeoutError:
            return None

    return async_to_sync(receive)()
