from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from conversations import events
from conversations.models import Contact, Conversation
from conversations.permissions import user_is_agent
from conversations.privacy.audit import audit_assignment, audit_status_change
from conversations.reports.rollups import report_mark
from conversations.services.labels import conversation_labels_set
from conversations.services.snooze import snooze_activity_text, snooze_time_check
from conversations.services.thread_entries import activity_record
from conversations.sql import copy_columns, db_datetime, table, update_returning
from messaging_site.errors import ApplicationError


def conversation_get_or_create(*, contact: Contact, channel: str) -> tuple[Conversation, bool]:
    # get_or_create retries the read when a concurrent first message created the row first.
    return Conversation.objects.get_or_create(contact=contact, channel=channel)


def agent_name(user) -> str:
    """How activity entries name an agent (as the API's `name` does)."""
    return user.get_full_name() or user.username


def conversation_set_status(*, conversation: Conversation, status: str, by, snoozed_until=None) -> Conversation:
    """`by` changes the status (to snoozed: until `snoozed_until`), recorded in the thread.
    Call inside a transaction, with the row locked (`conversation_update` does both)."""
    snoozed_until = snoozed_until if status == Conversation.Status.SNOOZED else None
    if (conversation.status, conversation.snoozed_until) == (status, snoozed_until):
        return conversation
    audit_status_change(conversation=conversation, to=status)  # audit log (issue 17)
    previous = conversation.status
    conversation.status, conversation.snoozed_until = status, snoozed_until
    conversation.save(update_fields=["status", "snoozed_until", "updated_at"])
    events.broadcast_on_commit(events.conversation_updated_event(conversation))
    name = agent_name(by)
    if status == Conversation.Status.SNOOZED:
        activity_record(
            conversation=conversation, actor=by, action="snoozed", text=snooze_activity_text(by=name, until=snoozed_until),
            details={"until": snoozed_until.isoformat()},
        )
        return conversation
    text = {
        Conversation.Status.RESOLVED: f"Resolved by {name}",
        Conversation.Status.PENDING: f"{name} set this to pending",
        Conversation.Status.OPEN: f"Reopened by {name}" if previous != Conversation.Status.SNOOZED else f"{name} ended the snooze",
    }[status]
    activity_record(conversation=conversation, actor=by, action="status", text=text, details={"status": status})
    return conversation


def conversation_assign(*, conversation: Conversation, assignee, by) -> Conversation:
    """Give `conversation` to `assignee` (None: nobody) on behalf of `by`, recorded in the
    thread. Call inside a transaction."""
    previous = conversation.assignee
    if conversation.assignee_id == (assignee.pk if assignee else None):
        return conversation
    conversation.assignee = assignee
    conversation.save(update_fields=["assignee", "updated_at"])
    events.broadcast_on_commit(events.conversation_updated_event(conversation))
    name = agent_name(by)
    if assignee is None:
        text = f"{name} unassigned this" if previous == by else f"{name} unassigned {agent_name(previous)}"
        activity_record(conversation=conversation, actor=by, action="unassigned", text=text,
                        details={"previous_assignee_id": previous.pk})
    else:
        text = f"{name} took this" if assignee == by else f"{name} assigned this to {agent_name(assignee)}"
        activity_record(conversation=conversation, actor=by, action="assigned", text=text,
                        details={"assignee_id": assignee.pk})
    return conversation


def conversation_auto_assign_on_reply(*, conversation: Conversation, agent) -> bool:
    """With AUTO_ASSIGN_ON_REPLY, an agent's reply in an unassigned conversation makes it
    theirs. Call inside the send's transaction. True when it assigned."""
    if not settings.AUTO_ASSIGN_ON_REPLY or agent is None or conversation.assignee_id is not None:
        return False
    if not user_is_agent(agent):
        return False
    # Conditional: of two agents replying at once, only the first takes it.
    if not Conversation.objects.filter(pk=conversation.pk, assignee__isnull=True).update(
        assignee=agent, updated_at=timezone.now()
    ):
        return False
    conversation = Conversation.objects.select_related("contact", "assignee", "last_message").get(pk=conversation.pk)
    events.broadcast_on_commit(events.conversation_updated_event(conversation))
    activity_record(
        conversation=conversation, actor=agent, action="auto_assigned",
        text=f"Assigned to {agent_name(agent)} on their reply", details={"assignee_id": agent.pk},
    )
    return True


def conversation_mark_read(*, conversation: Conversation) -> Conversation:
    if Conversation.objects.filter(pk=conversation.pk, unread_count__gt=0).update(unread_count=0):
        conversation.refresh_from_db()
        events.broadcast_on_commit(events.conversation_updated_event(conversation))
    return conversation


def conversation_record_message(*, conversation: Conversation, message, inbound: bool, batch=None) -> Conversation:
    """Move the thread's activity markers to `message`; an inbound one also counts as unread
    and reopens a resolved or snoozed thread (recorded in the thread, its events with
    `batch`). Call inside the transaction that created `message`.

    Returns `conversation` refreshed to what was written. Markers only move forward, since
    messages may be stored out of order.
    """
    at = db_datetime(message.created_at)
    newer = "(last_message_at IS NULL OR last_message_at <= %s)"
    assignments = [
        f"last_message_id = CASE WHEN {newer} THEN %s ELSE last_message_id END",
        f"last_message_at = CASE WHEN {newer} THEN %s ELSE last_message_at END",
        "updated_at = %s",
    ]
    params = [at, message.pk, at, at, db_datetime(timezone.now())]
    from_, returning, returning_params = "", "*", []
    if inbound:
        assignments += [
            "unread_count = unread_count + 1",
            "last_inbound_at = CASE WHEN last_inbound_at IS NULL OR last_inbound_at <= %s THEN %s ELSE last_inbound_at END",
            "status = CASE WHEN status IN (%s, %s) THEN %s ELSE status END",
            "snoozed_until = NULL",  # only a snoozed thread has one, and none stays snoozed
        ]
        params += [at, at, Conversation.Status.RESOLVED.value, Conversation.Status.SNOOZED.value, Conversation.Status.OPEN.value]
        from_, from_params, returning, returning_params = _previous_status(conversation)
        params += from_params
    # One statement for every webhook: the update, the status it replaced and the re-read together.
    updated = update_returning(
        Conversation, assignments=", ".join(assignments), from_=from_, where=f"{table(Conversation)}.id = %s",
        returning=returning, params=[*params, conversation.pk, *returning_params],
    )
    copy_columns(source=updated, target=conversation)
    report_mark(conversation_id=conversation.pk, at=message.created_at)  # reports (issue 16)
    if conversation.last_message_id == message.pk:
        conversation.last_message = message
    if inbound:
        _record_reopened_by_customer(conversation=conversation, previous_status=updated.previous_status, batch=batch)
    return conversation


def _previous_status(conversation: Conversation) -> tuple[str, list, str, list]:
    """How the inbound update also returns the status it replaced, as `previous_status`:
    (FROM clause, its params, RETURNING clause, its params)."""
    if connection.vendor == "postgresql":
        # Locked and read by the update itself: the status it replaced, also when a concurrent
        # change (the wake-up chore, an agent) committed after this transaction's earlier read.
        subquery = f"(SELECT status AS previous_status FROM {table(Conversation)} WHERE id = %s FOR UPDATE) AS previous"
        return subquery, [conversation.pk], f"{table(Conversation)}.*, previous.previous_status", []
    # SQLite (RETURNING sees no FROM table): this transaction has held the write lock since
    # BEGIN IMMEDIATE, so the status read earlier in it is still the row's.
    return "", [], "*, %s AS previous_status", [conversation.status]


def _record_reopened_by_customer(*, conversation: Conversation, previous_status: str, batch) -> None:
    if previous_status == Conversation.Status.SNOOZED:
        activity_record(conversation=conversation, actor=None, action="woke", text="Woke from snooze: the customer wrote",
                        details={"reason": "customer"}, batch=batch)
    elif previous_status == Conversation.Status.RESOLVED:
        activity_record(conversation=conversation, actor=None, action="status", text="Reopened: the customer wrote",
                        details={"status": Conversation.Status.OPEN.value, "reason": "customer"}, batch=batch)


def conversation_assign_by_agent(*, conversation: Conversation, assignee, by) -> Conversation:
    """Assign `conversation` to `assignee` (None: unassign) on behalf of agent `by`.

    The rule: any agent may assign an unassigned conversation (to themselves or a colleague)
    and may hand on or drop a conversation assigned to themselves. Taking a conversation away
    from a colleague (reassigning or unassigning it while someone else holds it) is for staff
    (supervisors) only, so two agents never silently pull a customer from each other. The row
    is locked while the rule is checked, so of two agents grabbing the same unassigned
    conversation at once, the second sees the first's assignment and is refused.
    """
    if assignee is not None and not user_is_agent(assignee):
        raise ApplicationError(
            "Conversations can only be assigned to active agents.", field="assignee_id", code="not_an_agent"
        )
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        holder_id = locked.assignee_id
        target_id = assignee.pk if assignee else None
        if holder_id not in (None, by.pk, target_id) and not by.is_staff:
            raise ApplicationError(
                "This conversation is assigned to a colleague; ask them or a supervisor to hand it over.",
                field="assignee_id",
                code="assigned_to_colleague",
                status=403,
            )
        conversation_assign(conversation=locked, assignee=assignee, by=by)
        audit_assignment(conversation=locked, by=by, before_id=holder_id)  # audit log (issue 17)
    conversation.refresh_from_db()
    return conversation


UNSET = object()  # `assignee_id` not given: the assignee stays


def conversation_change_check(*, status: str | None, snoozed_until) -> None:
    """What makes a status change invalid whatever the conversation (400)."""
    if snoozed_until is not None and status != Conversation.Status.SNOOZED:
        raise ApplicationError(
            'A snooze time goes with "status": "snoozed".', field="snoozed_until", code="requires_snoozed_status",
            status=400,
        )
    if status == Conversation.Status.SNOOZED:
        snooze_time_check(snoozed_until)


def assignee_get(assignee_id):
    """The user `assignee_id` names (None: nobody); 422 unless an active agent."""
    if assignee_id is None:
        return None
    assignee = get_user_model().objects.filter(pk=assignee_id).first()
    if assignee is None or not user_is_agent(assignee):
        raise ApplicationError("Conversations can only be assigned to active agents.", field="assignee_id", code="not_an_agent")
    return assignee


@transaction.atomic
def conversation_update(
    *,
    conversation: Conversation,
    by,
    status: str | None = None,
    assignee_id=UNSET,
    snoozed_until=None,
    labels: list[str] | None = None,
) -> Conversation:
    """An agent's change of status, assignee (`assignee_id=None` unassigns) and/or labels (the
    full set, by name), all or nothing. `status="snoozed"` needs `snoozed_until`, a time in the
    future."""
    conversation_change_check(status=status, snoozed_until=snoozed_until)
    if assignee_id is not UNSET:
        conversation = conversation_assign_by_agent(conversation=conversation, assignee=assignee_get(assignee_id), by=by)
    if status is not None:
        # Locked, so that the change recorded in the thread is from the status it replaced.
        locked = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("contact", "assignee", "last_message")
            .get(pk=conversation.pk)
        )
        conversation = conversation_set_status(conversation=locked, status=status, by=by, snoozed_until=snoozed_until)
    if labels is not None:
        conversation = conversation_labels_set(conversation=conversation, by=by, names=labels)
    return conversation
