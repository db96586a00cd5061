"""Issue 17: each audited action writes exactly one entry; the log cannot be rewritten."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import DatabaseError, connection, transaction
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from conversations.models import AuditEntry, MessageTemplate
from conversations.privacy.audit import audit_record
from conversations.services.contacts import contact_opt_out
from conversations.services.conversations import conversation_update
from conversations.tests.factories import UserFactory
from conversations.tests.outbound_support import open_conversation

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


def entries(action):
    return list(AuditEntry.objects.filter(action=action))


def one(action) -> AuditEntry:
    found = entries(action)
    assert len(found) == 1, (action, found, list(AuditEntry.objects.values_list("action", flat=True)))
    return found[0]


def test_sign_in_and_failed_sign_in_write_one_entry_each(client, agent):
    client.post("/accounts/login/", {"username": "alice", "password": "wrong"}, REMOTE_ADDR="203.0.113.7")
    failed = one("auth.login_failed")
    assert failed.details == {"username": "alice"} and failed.ip_address == "203.0.113.7"
    assert "wrong" not in str(failed.details)
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="203.0.113.7")
    assert one("auth.login").actor == agent


def test_a_lockout_writes_one_entry(client, agent, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "alice", "password": f"g{attempt}"}, REMOTE_ADDR="203.0.113.7")
    assert one("auth.locked_out").details == {"username": "alice"}


def test_assignment_and_status_change_write_one_entry_each(agent):
    conversation = open_conversation(channel="sms")
    conversation_update(conversation=conversation, by=agent, assignee_id=agent.pk)
    assert one("conversation.assigned").details == {"from": None, "to": agent.pk}
    conversation_update(conversation=conversation, by=agent, status="resolved")
    assert one("conversation.status").details == {"from": "open", "to": "resolved"}
    conversation_update(conversation=conversation, by=agent, status="resolved", assignee_id=agent.pk)  # no change
    assert len(entries("conversation.status")) == len(entries("conversation.assigned")) == 1


def test_status_change_through_the_api_is_the_agents(agent_client, agent):
    conversation = open_conversation(channel="sms")
    agent_client.patch(f"/api/v1/conversations/{conversation.pk}/", {"status": "pending"}, format="json")
    entry = one("conversation.status")
    assert entry.actor == agent and entry.object_id == str(conversation.pk)


def test_opt_out_writes_one_entry(agent):
    contact = open_conversation(channel="sms").contact
    contact_opt_out(contact=contact, channel="sms", reason="STOP", method="keyword")
    contact_opt_out(contact=contact, channel="sms", reason="STOP", method="keyword")  # repeated: no change
    assert one("contact.opted_out").details == {"channel": "sms", "method": "keyword"}


def test_user_group_permission_and_token_changes_write_one_entry_each(db):
    user = UserFactory(username="carol")
    one("user.created")
    user.is_staff = True
    user.save()
    assert one("user.changed").details == {"fields": ["is_staff"], "is_staff": True}
    group = Group.objects.create(name="Supervisors")
    one("group.created")
    user.groups.add(group)
    assert one("user.groups.added").details == {"groups": ["Supervisors"]}
    permission = Permission.objects.get(codename="view_contact")
    group.permissions.add(permission)
    one("group.permissions.added")
    user.user_permissions.add(permission)
    one("user.permissions.added")
    user.groups.clear()
    one("user.groups.removed")
    Token.objects.create(user=user)
    entry = one("api_token.created")
    assert Token.objects.get(user=user).key not in str(entry.details)


def test_template_admin_create_edit_and_status_change_write_one_entry_each(client, staff):
    client.force_login(staff)
    form = {"name": "order_shipped", "language": "en_US", "category": "UTILITY", "status": "PENDING", "header_type": "none",
            "header_text": "", "body": "Hi {{1}}", "footer": "", "buttons": "[]"}
    assert client.post("/admin/conversations/messagetemplate/add/", form).status_code == 302
    template = MessageTemplate.objects.get()
    assert one("template.created").actor == staff
    client.post(f"/admin/conversations/messagetemplate/{template.pk}/change/", {**form, "body": "Hello {{1}}"})
    assert "body" in one("template.changed").details["fields"]
    client.post(f"/admin/conversations/messagetemplate/{template.pk}/change/", {**form, "body": "Hello {{1}}", "status": "APPROVED"})
    assert one("template.status_changed").details == {"from": "PENDING", "to": "APPROVED"}


def test_export_and_erase_write_one_entry_each(staff, agent):
    client = APIClient()
    client.force_authenticate(staff)
    contact = open_conversation(channel="sms").contact
    client.get(f"/api/v1/contacts/{contact.pk}/export/")
    assert one("contact.exported").actor == staff
    client.post(f"/api/v1/contacts/{contact.pk}/erase/", {"reason": "Customer request"}, format="json")
    assert one("contact.erased").details["reason"] == "Customer request"


# --- the log itself -------------------------------------------------------------------------
def test_entries_cannot_be_changed_or_deleted_through_the_app(db):
    entry = audit_record(action="test.thing")
    entry.action = "rewritten"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


def test_admin_is_read_only_even_for_superusers(client, staff):
    client.force_login(staff)
    entry = audit_record(action="test.thing")
    assert client.get("/admin/conversations/auditentry/").status_code == 200
    assert client.get("/admin/conversations/auditentry/add/").status_code == 403
    assert client.post(f"/admin/conversations/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk, action="test.thing").exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
@pytest.mark.parametrize("sql", ["UPDATE conversations_auditentry SET action = 'forged'", "DELETE FROM conversations_auditentry"])
def test_postgresql_refuses_update_and_delete_in_raw_sql(db, sql):
    audit_record(action="test.thing")
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEntry.objects.filter(action="test.thing").count() == 1


def test_audit_api_filters_and_pages(staff, agent):
    client = APIClient()
    client.force_authenticate(staff)
    for n in range(3):
        audit_record(actor=agent, action="contact.exported", details={"n": n})
    audit_record(actor=staff, action="contact.erased")
    first = client.get("/api/v1/audit/?actor=alice&action=contact.exported&limit=2").json()
    assert [e["details"]["n"] for e in first["results"]] == [2, 1]
    second = client.get(f"/api/v1/audit/?actor=alice&action=contact.exported&limit=2&cursor={first['next_cursor']}").json()
    assert [e["details"]["n"] for e in second["results"]] == [0] and second["next_cursor"] is None
    assert client.get(f"/api/v1/audit/?actor={staff.pk}").json()["results"][0]["action"] == "contact.erased"
    assert client.get("/api/v1/audit/?since=2999-01-01T00:00:00Z").json()["results"] == []
    bad = client.get("/api/v1/audit/?since=yesterday")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "since"
