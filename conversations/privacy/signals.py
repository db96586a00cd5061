"""Audit entries for what Django and django-axes do outside Parley's services: sign-ins,
failed sign-ins and lockouts, changes to users, groups and permissions, API tokens.

The actor and address come from the current request (`audit.AuditRequestMiddleware`), so an
admin's change is recorded as theirs. Nothing secret is recorded: no password, no token key.
"""

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model, user_logged_in, user_login_failed
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from rest_framework.authtoken.models import Token

from conversations.privacy.audit import audit_record

USER_AUDITED_FIELDS = ("username", "email", "first_name", "last_name", "is_active", "is_staff", "is_superuser", "password")


def on_logged_in(sender, request, user, **kwargs):
    audit_record(actor=user, action="auth.login", target=user, request=request)


def on_login_failed(sender, credentials, request=None, **kwargs):
    audit_record(action="auth.login_failed", details={"username": str(credentials.get("username", ""))[:150]}, request=request)


def on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    audit_record(action="auth.locked_out", details={"username": str(username or "")[:150]}, request=request)


def remember_user_fields(sender, instance, update_fields=None, **kwargs):
    instance._audit_before = None
    if update_fields is not None and not set(update_fields) & set(USER_AUDITED_FIELDS):
        return  # a sign-in's last_login update
    if instance.pk:
        instance._audit_before = sender.objects.filter(pk=instance.pk).values(*USER_AUDITED_FIELDS).first()


def on_user_saved(sender, instance, created, **kwargs):
    if created:
        audit_record(action="user.created", target=instance, details={"username": instance.get_username()})
        return
    before = getattr(instance, "_audit_before", None)
    if not before:
        return
    changed = sorted(field for field in USER_AUDITED_FIELDS if before[field] != getattr(instance, field))
    if changed:
        # Values of access flags are useful evidence; the password hash is not recorded.
        values = {field: getattr(instance, field) for field in changed if field.startswith("is_")}
        audit_record(action="user.changed", target=instance, details={"fields": changed, **values})


def on_user_deleted(sender, instance, **kwargs):
    audit_record(action="user.deleted", target=instance, details={"username": instance.get_username()})


def on_group_saved(sender, instance, created, **kwargs):
    audit_record(action="group.created" if created else "group.changed", target=instance, details={"name": instance.name})


def on_group_deleted(sender, instance, **kwargs):
    audit_record(action="group.deleted", target=instance, details={"name": instance.name})


def on_membership_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """Users joining or leaving groups, and permissions granted to or taken from a user or a
    group, from either side of the relation. One entry per add, remove or clear."""
    if action == "pre_clear":
        # clear() reports no pk_set afterwards: name what is about to go.
        manager = getattr(instance, _manager_name(sender, instance, reverse))
        names = sorted(str(obj) for obj in manager.all())
        verb = "removed"
    elif action in ("post_add", "post_remove") and pk_set:
        names = sorted(str(obj) for obj in model.objects.filter(pk__in=pk_set))
        verb = "added" if action == "post_add" else "removed"
    else:
        return
    if names:
        audit_record(action=f"{_relation(sender)}.{verb}", target=instance, details={model._meta.model_name + "s": names})


def _relation(through) -> str:
    user_model = get_user_model()
    if through is user_model.groups.through:
        return "user.groups"
    if through is user_model.user_permissions.through:
        return "user.permissions"
    return "group.permissions"


def _manager_name(through, instance, reverse) -> str:
    user_model = get_user_model()
    if through is user_model.groups.through:
        return "user_set" if reverse else "groups"
    if through is user_model.user_permissions.through:
        return "user_set" if reverse else "user_permissions"
    return "group_set" if reverse else "permissions"


def on_token_created(sender, instance, created, **kwargs):
    if created:
        audit_record(action="api_token.created", target=instance.user, details={"for": instance.user.get_username()})


def connect():
    user_model = get_user_model()
    uid = "parley_audit_"
    user_logged_in.connect(on_logged_in, dispatch_uid=uid + "login")
    user_login_failed.connect(on_login_failed, dispatch_uid=uid + "login_failed")
    user_locked_out.connect(on_locked_out, dispatch_uid=uid + "locked_out")
    pre_save.connect(remember_user_fields, sender=user_model, dispatch_uid=uid + "user_before")
    post_save.connect(on_user_saved, sender=user_model, dispatch_uid=uid + "user_saved")
    post_delete.connect(on_user_deleted, sender=user_model, dispatch_uid=uid + "user_deleted")
    post_save.connect(on_group_saved, sender=Group, dispatch_uid=uid + "group_saved")
    post_delete.connect(on_group_deleted, sender=Group, dispatch_uid=uid + "group_deleted")
    for through in (user_model.groups.through, user_model.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(on_membership_changed, sender=through, dispatch_uid=uid + through.__name__)
    post_save.connect(on_token_created, sender=Token, dispatch_uid=uid + "token")
