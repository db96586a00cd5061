"""WhatsApp message templates as Meta approved them, and the numbered-variable rules their
texts follow. Defined apart from the messaging core; `models.py` re-exports them.
"""

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

TEMPLATE_NAME_REGEX = r"^[a-z0-9_]+$"
TEMPLATE_VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def template_variables(text: str) -> list[int]:
    return sorted({int(n) for n in TEMPLATE_VARIABLE.findall(text or "")})


def validate_numbered_variables(text: str, where: str) -> None:
    numbers = template_variables(text)
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        raise ValidationError(
            f"{where} variables must be numbered {{{{1}}}} to {{{{{len(numbers)}}}}} without gaps; found "
            + ", ".join(f"{{{{{n}}}}}" for n in numbers)
        )


class MessageTemplate(models.Model):
    """A WhatsApp message template as approved (or not) by Meta."""

    class Category(models.TextChoices):
        MARKETING = "MARKETING", "Marketing"
        UTILITY = "UTILITY", "Utility"
        AUTHENTICATION = "AUTHENTICATION", "Authentication"

    class Status(models.TextChoices):
        APPROVED = "APPROVED", "Approved"
        PENDING = "PENDING", "Pending"
        REJECTED = "REJECTED", "Rejected"
        PAUSED = "PAUSED", "Paused"
        DISABLED = "DISABLED", "Disabled"

    class HeaderType(models.TextChoices):
        NONE = "none", "None"
        TEXT = "text", "Text"
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"
        DOCUMENT = "document", "Document"

    name = models.CharField(
        max_length=512,
        validators=[RegexValidator(TEMPLATE_NAME_REGEX, "Use lowercase letters, digits and underscores only.")],
    )
    language = models.CharField(
        max_length=16,
        validators=[RegexValidator(r"^[a-z]{2,3}(_[A-Z]{2})?$", "A language code such as en or en_US.")],
    )
    category = models.CharField(max_length=16, choices=Category.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    header_type = models.CharField(max_length=16, choices=HeaderType.choices, default=HeaderType.NONE)
    header_text = models.CharField(max_length=60, blank=True)
    body = models.TextField(max_length=1024)
    footer = models.CharField(max_length=60, blank=True)
    # [{"type": "quick_reply", "text": "Yes"}, {"type": "url", "text": "Track", "url": "https://x/{{1}}"},
    #  {"type": "phone_number", "text": "Call us", "phone_number": "+1..."}]
    buttons = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["name", "language"], name="unique_template_name_language"),
            models.CheckConstraint(condition=Q(name__regex=TEMPLATE_NAME_REGEX), name="template_name_format"),
        ]

    def __str__(self):
        return f"{self.name} ({self.language})"

    def clean(self):
        errors = {}
        for field, label in (("header_text", "Header"), ("body", "Body")):
            try:
                validate_numbered_variables(getattr(self, field), label)
            except ValidationError as exc:
                errors[field] = exc.messages
        if self.header_type == self.HeaderType.TEXT and not self.header_text:
            errors["header_text"] = ["A text header needs its text."]
        if self.header_type != self.HeaderType.TEXT and self.header_text:
            errors["header_text"] = ["Header text is only used with a text header."]
        if TEMPLATE_VARIABLE.search(self.footer or ""):
            errors["footer"] = ["The footer cannot contain variables."]
        try:
            self._clean_buttons()
        except ValidationError as exc:
            errors["buttons"] = exc.messages
        if errors:
            raise ValidationError(errors)

    def _clean_buttons(self):
        if not isinstance(self.buttons, list):
            raise ValidationError("Buttons must be a list.")
        if len(self.buttons) > 10:
            raise ValidationError("WhatsApp allows at most 10 buttons.")
        for index, button in enumerate(self.buttons):
            if not isinstance(button, dict) or button.get("type") not in ("quick_reply", "url", "phone_number"):
                raise ValidationError(f"Button {index + 1}: type must be quick_reply, url or phone_number.")
            if not button.get("text"):
                raise ValidationError(f"Button {index + 1}: needs a text.")
            if button["type"] == "url":
                if not str(button.get("url", "")).startswith(("https://", "http://")):
                    raise ValidationError(f"Button {index + 1}: a url button needs an http(s) url.")
                if len(template_variables(button["url"])) > 1:
                    raise ValidationError(f"Button {index + 1}: a url takes at most one variable, {{{{1}}}}.")

    # --- parameters and preview -----------------------------------------------------------
    def parameter_slots(self) -> dict:
        """How many parameters each component takes: the shape a sender must fill."""
        header = 0
        if self.header_type == self.HeaderType.TEXT:
            header = len(template_variables(self.header_text))
        elif self.header_type != self.HeaderType.NONE:
            header = 1  # the media URL
        buttons = []
        for index, button in enumerate(self.buttons or []):
            if button.get("type") == "url" and template_variables(button.get("url", "")):
                buttons.append({"index": index, "sub_type": "url", "count": 1})
            elif button.get("type") == "quick_reply":
                buttons.append({"index": index, "sub_type": "quick_reply", "count": 0})
        return {"header": header, "body": len(template_variables(self.body)), "buttons": buttons}

    def render(self, parameters: dict | None = None) -> dict:
        """A preview: each component with `{{n}}` replaced by the given parameters.

        `parameters` = {"header": [...], "body": [...], "buttons": {"<index>": [...]}};
        a missing parameter is shown as its placeholder.
        """
        parameters = parameters or {}

        def fill(text, values):
            values = list(values or [])

            def replace(match):
                n = int(match.group(1))
                return str(values[n - 1]) if n <= len(values) and values[n - 1] not in (None, "") else match.group(0)

            return TEMPLATE_VARIABLE.sub(replace, text or "")

        header = None
        if self.header_type == self.HeaderType.TEXT:
            header = {"type": "text", "text": fill(self.header_text, parameters.get("header"))}
        elif self.header_type != self.HeaderType.NONE:
            media = (parameters.get("header") or [None])[0]
            header = {"type": self.header_type, "media": media}
        button_params = parameters.get("buttons") or {}
        buttons = []
        for index, button in enumerate(self.buttons or []):
            rendered = dict(button)
            if button.get("type") == "url":
                rendered["url"] = fill(button.get("url"), button_params.get(str(index)) or button_params.get(index))
            buttons.append(rendered)
        body = fill(self.body, parameters.get("body"))
        text_parts = [header["text"]] if header and header.get("type") == "text" else []
        text_parts.append(body)
        if self.footer:
            text_parts.append(self.footer)
        return {
            "header": header,
            "body": body,
            "footer": self.footer,
            "buttons": buttons,
            "text": "\n\n".join(part for part in text_parts if part),
        }
