"""Labels: the picker's list, finding labels by name, and a conversation's labels as the wire
shows them ([{"name", "colour"}], by name) without a query per conversation.

Every conversation event carries its labels, and the webhook hot path builds one per
message; so the reads that load a conversation for an event (the inbox list, `sql_reads`)
fetch its labels in the same statement, as `labels_sql` below, into the attribute
`conversation.label_summaries`. Anything else falls back to one query.
"""

import functools
import json

from django.db import connection
from django.db.models import JSONField, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower

from conversations.models import Conversation, Label
from conversations.sql import table
from messaging_site.errors import ApplicationError


def label_list() -> QuerySet:
    return Label.objects.order_by(Lower("name"))


def labels_by_name(names) -> tuple[list[Label], list[str]]:
    """The labels named in `names`, ignoring case (each once, by name), and the names no label has.

    Matched on SQL lower(), the unique index's expression (on SQLite, ASCII letters only)."""
    wanted = {name.strip().lower(): name.strip() for name in names if name.strip()}
    if not wanted:
        return [], []
    found = {label.lowered: label for label in label_list().annotate(lowered=Lower("name")).filter(lowered__in=list(wanted))}
    return [found[key] for key in sorted(found)], [name for key, name in wanted.items() if key not in found]


def label_for_filter(name: str, *, field: str = "label") -> Label:
    labels, _ = labels_by_name([name])
    if not labels:
        raise ApplicationError(f'No label is named "{name.strip()}".', field=field, code="unknown_label", status=400)
    return labels[0]


def labels_sql(conversation_id: str) -> str:
    """A scalar subquery: the labels of the conversation whose id is the SQL expression
    `conversation_id`, as a JSON array of {"name", "colour"} (text on both databases)."""
    return _labels_sql(conversation_id, connection.vendor)


@functools.cache
def _labels_sql(conversation_id: str, vendor: str) -> str:
    labels, links = table(Label), table(Conversation.labels.through)
    if vendor == "postgresql":
        # jsonb: Django reads jsonb as text (json would arrive already decoded).
        aggregate = "COALESCE(jsonb_agg(jsonb_build_object('name', l.name, 'colour', l.colour)), '[]'::jsonb)"
    else:
        aggregate = "json_group_array(json_object('name', l.name, 'colour', l.colour))"
    return (
        f"(SELECT {aggregate} FROM {labels} l JOIN {links} cl ON cl.label_id = l.id "
        f"WHERE cl.conversation_id = {conversation_id})"
    )


def with_label_summaries(conversations: QuerySet) -> QuerySet:
    """`conversations`, each with its labels read in the same query."""
    own_id = f"{table(Conversation)}.{connection.ops.quote_name('id')}"
    return conversations.annotate(label_summaries=RawSQL(labels_sql(own_id), [], output_field=JSONField()))


def label_summaries_from_db(value) -> list[dict]:
    """What `labels_sql` returned, as a list (also when the driver decoded it already)."""
    return json.loads(value) if isinstance(value, (str, bytes)) else list(value or [])


def conversation_labels(conversation: Conversation) -> list[dict]:
    """[{"name", "colour"}] of `conversation`'s labels, by name."""
    summaries = getattr(conversation, "label_summaries", None)
    if summaries is None:
        prefetched = getattr(conversation, "_prefetched_objects_cache", {}).get("labels")
        if prefetched is not None:
            summaries = [{"name": label.name, "colour": label.colour} for label in prefetched]
        elif conversation.pk is None:
            summaries = []
        else:
            summaries = list(conversation.labels.values("name", "colour"))
        conversation.label_summaries = summaries
    return sorted(summaries, key=lambda label: label["name"].casefold())
