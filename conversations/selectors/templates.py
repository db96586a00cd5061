from django.db.models import QuerySet

from conversations.models import MessageTemplate


def template_list_approved(*, language: str | None = None) -> QuerySet:
    templates = MessageTemplate.objects.filter(status=MessageTemplate.Status.APPROVED)
    if language:
        templates = templates.filter(language=language)
    return templates.order_by("name", "language")
