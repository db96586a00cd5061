"""The reads of the webhook hot path, beside the writes of `sql.py`.

Each webhook reads one of these. Written as SQL once rather than as `select_related`
querysets, which the ORM rebuilt for every request at several times the database's cost.
"""

from django.contrib.auth import get_user_model

from conversations.models import Contact, Conversation, Message
from conversations.selectors.labels import label_summaries_from_db, labels_sql
from conversations.sql import select_one, table


def conversation_for_sender(*, phone: str, channel: str) -> Conversation | None:
    """The conversation of the contact with E.164 `phone` on `channel`, with its contact,
    assignee and labels, or None on first contact."""
    row = select_one(
        {"cv": Conversation, "ct": Contact, "ag": get_user_model()},
        f"FROM {table(Conversation)} cv JOIN {table(Contact)} ct ON ct.id = cv.contact_id "
        f"LEFT JOIN {table(get_user_model())} ag ON ag.id = cv.assignee_id WHERE ct.phone = %s AND cv.channel = %s",
        [phone, channel],
        extra={"labels": labels_sql("cv.id")},
    )
    if row is None:
        return None
    conversation = row["cv"]
    conversation.contact, conversation.assignee = row["ct"], row["ag"]
    conversation.label_summaries = label_summaries_from_db(row["labels"])
    return conversation


def message_with_event_relations(*, plivo_uuid: str | None = None, pk: int | None = None) -> Message | None:
    """One message by Plivo uuid or id, with everything its inbox events show: sender,
    replied-to message, conversation, contact, assignee and labels."""
    user = table(get_user_model())
    where, params = ("m.plivo_message_uuid = %s", [plivo_uuid]) if plivo_uuid is not None else ("m.id = %s", [pk])
    row = select_one(
        {"m": Message, "cv": Conversation, "ct": Contact, "ag": get_user_model(), "sb": get_user_model(), "rt": Message},
        f"FROM {table(Message)} m JOIN {table(Conversation)} cv ON cv.id = m.conversation_id "
        f"JOIN {table(Contact)} ct ON ct.id = cv.contact_id LEFT JOIN {user} ag ON ag.id = cv.assignee_id "
        f"LEFT JOIN {user} sb ON sb.id = m.sent_by_id LEFT JOIN {table(Message)} rt ON rt.id = m.reply_to_id WHERE {where}",
        params,
        extra={"labels": labels_sql("cv.id")},
    )
    if row is None:
        return None
    message, conversation = row["m"], row["cv"]
    conversation.contact, conversation.assignee = row["ct"], row["ag"]
    conversation.label_summaries = label_summaries_from_db(row["labels"])
    message.conversation, message.sent_by, message.reply_to = conversation, row["sb"], row["rt"]
    return message
