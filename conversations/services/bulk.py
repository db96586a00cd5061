"""One change applied to many conversations at once (the inbox's bulk bar): status, assignee,
labels added and taken off.

Each conversation is changed in its own transaction, by the same `conversation_update` as a
single PATCH, so the same assignment rule decides for each one and a refusal (a colleague's
conversation, say) leaves the others changed. One transaction for all would hold a lock on
every selected row until the last was done, stalling the webhooks and agents that touch them
and risking deadlock against another bulk change taking the rows in another order; and each
change is pushed to other agents as soon as it commits.
"""

from dataclasses import dataclass

from conversations.models import Conversation
from conversations.selectors.labels import with_label_summaries
from django.db import transaction

from conversations.services.conversations import UNSET, assignee_get, conversation_change_check, conversation_update
from conversations.services.labels import conversation_labels_apply, labels_resolve
from messaging_site.errors import ApplicationError

BULK_LIMIT = 100


@dataclass
class BulkResult:
    id: int
    conversation: Conversation | None = None
    error: ApplicationError | None = None


def conversations_bulk_update(
    *, ids: list[int], by, status: str | None = None, assignee_id=UNSET, snoozed_until=None,
    labels_add: list[str] = (), labels_remove: list[str] = (),
) -> list[BulkResult]:
    """Apply one change to each of `ids` (in order, each once); a result per id. What is wrong
    with the request itself (a bad snooze time, a non-agent assignee, an unknown label) refuses
    it as a whole."""
    conversation_change_check(status=status, snoozed_until=snoozed_until)
    if status is None and assignee_id is UNSET and not labels_add and not labels_remove:
        raise ApplicationError(
            "Say what to change: `status`, `assignee_id`, `labels_add` and/or `labels_remove`.", code="empty", status=400
        )
    if assignee_id is not UNSET:
        assignee_get(assignee_id)
    to_add = labels_resolve(labels_add, field="labels_add")
    to_remove = labels_resolve(labels_remove, field="labels_remove")
    ids = list(dict.fromkeys(ids))
    found = Conversation.objects.in_bulk(ids)
    results = []
    for pk in ids:
        conversation = found.get(pk)
        if conversation is None:
            results.append(BulkResult(id=pk, error=ApplicationError("No such conversation.", code="not_found", status=404)))
            continue
        try:
            with transaction.atomic():  # all of this conversation's change, or none of it
                if status is not None or assignee_id is not UNSET:
                    conversation_update(conversation=conversation, by=by, status=status, assignee_id=assignee_id,
                                        snoozed_until=snoozed_until)
                if to_add or to_remove:
                    conversation_labels_apply(conversation=conversation, by=by, add=to_add, remove=to_remove)
        except ApplicationError as refused:
            results.append(BulkResult(id=pk, error=refused))
            continue
        results.append(BulkResult(id=pk))
    changed = with_label_summaries(Conversation.objects.select_related("contact", "assignee", "last_message")).in_bulk(
        [result.id for result in results if result.error is None]
    )
    for result in results:
        if result.error is None:
            result.conversation = changed[result.id]
    return results
