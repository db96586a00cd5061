"""Close a user's inbox sockets when they stop being allowed to see the inbox; tell open inboxes
when staff change a label; mark the report days of a conversation about to be deleted.

Channels resolves the user once, at connect; without these, a socket opened before a logout,
deactivation or loss of the agent role would keep receiving customer messages.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model, user_logged_out
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from conversations import events
from conversations.permissions import AGENTS_GROUP, user_is_agent


def close_sockets_on_logout(sender, request, user, **kwargs):
    if user is not None:
        events.close_user_sockets(user.pk, "logged_out")
    if request is not None and hasattr(request, "_messages"):
        messages.info(request, "You're signed out, and your open inbox tabs were disconnected.")


ACCESS_FIELDS = ("is_active", "is_staff", "is_superuser", "password")


def remember_access_fields(sender, instance, update_fields=None, **kwargs):
    """Keep what the row held before this save, to tell in post_save what changed."""
    instance._access_before_save = None
    if update_fields is not None and not set(update_fields) & set(ACCESS_FIELDS):
        return  # e.g. login's last_login update: nothing that grants access changes
    if instance.pk:
        instance._access_before_save = (
            sender.objects.filter(pk=instance.pk).values(*ACCESS_FIELDS).first()
        )


def close_sockets_on_lost_access(sender, instance, created, **kwargs):
    before = getattr(instance, "_access_before_save", None)
    if created or not before:
        return
    if before["password"] != instance.password:
        events.close_user_sockets(instance.pk, "password_changed")
    elif not instance.is_active and before["is_active"]:
        events.close_user_sockets(instance.pk, "deactivated")
    elif (before["is_staff"] or before["is_superuser"]) and not user_is_agent(instance):
        events.close_user_sockets(instance.pk, "not_an_agent")


def close_sockets_on_group_removal(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in ("post_remove", "post_clear"):
        return
    user_model = get_user_model()
    if isinstance(instance, user_model):
        users = [instance]
    else:  # group.user_set.remove(...) / .clear()
        if instance.name != AGENTS_GROUP:
            return
        users = user_model.objects.filter(pk__in=pk_set) if pk_set else []
        if action == "post_clear":
            # pk_set is None after clear(): every former member may have lost access.
            users = user_model.objects.filter(is_active=True)
    for user in users:
        if not user_is_agent(user):
            events.close_user_sockets(user.pk, "not_an_agent")


def remember_label_name(sender, instance, **kwargs):
    instance._name_before_save = sender.objects.filter(pk=instance.pk).values_list("name", flat=True).first() if instance.pk else ""


def announce_label_saved(sender, instance, created, **kwargs):
    events.broadcast_on_commit(events.labels_changed_event(label=instance, previous_name=getattr(instance, "_name_before_save", "")))


def announce_label_deleted(sender, instance, **kwargs):
    events.broadcast_on_commit(events.labels_changed_event(label=None, previous_name=instance.name))


def mark_report_days_before_deletion(sender, instance, **kwargs):
    from conversations.reports.rollups import report_mark_deletion

    report_mark_deletion(conversation_id=instance.pk)


def connect():
    from conversations.models import Conversation, Label

    pre_save.connect(remember_label_name, sender=Label, dispatch_uid="parley_remember_label_name")
    post_save.connect(announce_label_saved, sender=Label, dispatch_uid="parley_announce_label_saved")
    post_delete.connect(announce_label_deleted, sender=Label, dispatch_uid="parley_announce_label_deleted")
    # An admin deleting a conversation (or its contact): the reports stop counting it.
    pre_delete.connect(mark_report_days_before_deletion, sender=Conversation, dispatch_uid="parley_report_deletion")
    user_model = get_user_model()
    user_logged_out.connect(close_sockets_on_logout, dispatch_uid="parley_close_sockets_on_logout")
    pre_save.connect(remember_access_fields, sender=user_model, dispatch_uid="parley_remember_access_fields")
    post_save.connect(close_sockets_on_lost_access, sender=user_model, dispatch_uid="parley_close_sockets_lost_access")
    m2m_changed.connect(
        close_sockets_on_group_removal, sender=user_model.groups.through, dispatch_uid="parley_close_sockets_groups"
    )
