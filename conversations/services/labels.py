"""Agents labelling conversations: set a conversation's labels, or add and remove some (bulk)."""

from collections.abc import Callable, Iterable

from django.db import transaction

from conversations import events
from conversations.models import Conversation, Label
from conversations.selectors.labels import labels_by_name
from conversations.services.thread_entries import activity_record
from messaging_site.errors import ApplicationError


def labels_resolve(names: Iterable[str], *, field: str = "labels") -> list[Label]:
    """The labels with these names (ignoring case), or a 400 naming the first unknown one."""
    labels, missing = labels_by_name(names)
    if missing:
        raise ApplicationError(
            f'No label is named "{missing[0]}"; staff add labels in the admin.', field=field, code="unknown_label", status=400
        )
    return labels


def conversation_labels_set(*, conversation: Conversation, by, names: Iterable[str], batch=None) -> Conversation:
    """Give `conversation` exactly the labels named in `names` (an empty list removes them all)."""
    wanted = labels_resolve(names)
    return _labels_change(conversation=conversation, by=by, wanted=lambda current: wanted, batch=batch)


def conversation_labels_change(
    *, conversation: Conversation, by, add: Iterable[str] = (), remove: Iterable[str] = (), batch=None
) -> Conversation:
    """Add the labels named in `add` and take off those in `remove`, keeping the others."""
    return conversation_labels_apply(
        conversation=conversation, by=by, add=labels_resolve(add, field="labels_add"),
        remove=labels_resolve(remove, field="labels_remove"), batch=batch,
    )


def conversation_labels_apply(
    *, conversation: Conversation, by, add: Iterable[Label] = (), remove: Iterable[Label] = (), batch=None
) -> Conversation:
    """`conversation_labels_change` with the labels already resolved (bulk edits resolve the
    names once for all their conversations)."""
    to_add = list(add)
    to_remove = {label.pk for label in remove}
    return _labels_change(
        conversation=conversation,
        by=by,
        wanted=lambda current: [label for label in current if label.pk not in to_remove] + to_add,
        batch=batch,
    )


@transaction.atomic
def _labels_change(
    *, conversation: Conversation, by, wanted: Callable[[list[Label]], list[Label]], batch
) -> Conversation:
    # The row lock orders concurrent label edits of one conversation, so each activity entry
    # says what that edit really changed.
    Conversation.objects.select_for_update().filter(pk=conversation.pk).values_list("pk").first()
    current = list(conversation.labels.all())
    target = {label.pk: label for label in wanted(current)}
    held = {label.pk for label in current}
    added = sorted((label for pk, label in target.items() if pk not in held), key=_by_name)
    removed = sorted((label for label in current if label.pk not in target), key=_by_name)
    if not added and not removed:
        return conversation
    conversation.labels.remove(*removed)
    conversation.labels.add(*added)
    conversation.label_summaries = [{"name": label.name, "colour": label.colour} for label in target.values()]
    conversation.save(update_fields=["updated_at"])
    activity_record(
        conversation=conversation,
        actor=by,
        action="labelled",
        text="Labels: " + " ".join([f"+{label.name}" for label in added] + [f"\u2212{label.name}" for label in removed]),
        details={"added": [label.name for label in added], "removed": [label.name for label in removed]},
        batch=batch,
    )
    events.broadcast_on_commit(events.conversation_updated_event(conversation), batch=batch)
    return conversation


def _by_name(label: Label) -> str:
    return label.name.casefold()
