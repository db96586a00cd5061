"""What staff set up in the admin for agents to use: labels and canned replies.

Defined here to keep `models.py` to the messaging core; `models.py` re-exports both, so
`from conversations.models import Label` is the way to import them.
"""

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

LABEL_COLOUR_REGEX = r"^#[0-9a-f]{6}$"
LABEL_NAME_MAX_LENGTH = 40


class Label(models.Model):
    """A tag agents put on conversations ("billing", "vip"). Names are unique ignoring case, so
    "VIP" and "vip" are one label, and the REST API finds a label by its name either way."""

    name = models.CharField(max_length=LABEL_NAME_MAX_LENGTH)
    colour = models.CharField(
        max_length=7,
        default="#64748b",
        validators=[RegexValidator(LABEL_COLOUR_REGEX, "A colour as #rrggbb, for example #2563eb.")],
        help_text="The chip's colour in the inbox, as #rrggbb.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="label_name_unique_ignoring_case",
                violation_error_message="A label with this name already exists (names are compared ignoring case).",
            ),
            models.CheckConstraint(condition=~Q(name=""), name="label_name_not_blank"),
            models.CheckConstraint(condition=Q(colour__regex=LABEL_COLOUR_REGEX), name="label_colour_is_hex"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        self.name = (self.name or "").strip()
        if not self.name:
            raise ValidationError({"name": "A label needs a name."})


SHORTCUT_REGEX = r"^[a-z0-9][a-z0-9_-]*$"
# The placeholders a canned reply may use, filled in when an agent inserts it.
CANNED_PLACEHOLDERS = ("contact.name", "contact.phone", "agent.name")
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
# What `{{contact.name}}` becomes for a customer whose name we do not know: "Hi there,".
UNKNOWN_CONTACT_NAME = "there"


class CannedReply(models.Model):
    """A saved answer an agent inserts by typing `/` and its shortcut in the composer. It is
    sent as free text, so on WhatsApp only inside the 24-hour window."""

    shortcut = models.CharField(
        max_length=40,
        unique=True,
        validators=[RegexValidator(SHORTCUT_REGEX, "Lowercase letters, digits, - and _ only, such as refund-policy.")],
        help_text="What agents type after / in the composer, e.g. refund-policy.",
    )
    title = models.CharField(max_length=100)
    text = models.TextField(
        max_length=4096,
        help_text="Placeholders: " + ", ".join("{{%s}}" % name for name in CANNED_PLACEHOLDERS)
        + f'. An unknown customer name becomes "{UNKNOWN_CONTACT_NAME}".',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shortcut"]
        verbose_name_plural = "canned replies"
        constraints = [
            models.CheckConstraint(condition=Q(shortcut__regex=SHORTCUT_REGEX), name="canned_reply_shortcut_format"),
            models.CheckConstraint(condition=~Q(text=""), name="canned_reply_text_not_blank"),
        ]

    def __str__(self):
        return f"/{self.shortcut}"

    def clean(self):
        unknown = sorted({match.strip() for match in PLACEHOLDER.findall(self.text or "")} - set(CANNED_PLACEHOLDERS))
        if unknown:
            raise ValidationError(
                {
                    "text": "Unknown placeholder "
                    + ", ".join("{{%s}}" % name for name in unknown)
                    + "; use "
                    + ", ".join("{{%s}}" % name for name in CANNED_PLACEHOLDERS)
                    + "."
                }
            )

    def fill(self, *, contact, agent) -> str:
        """The text as `agent` would send it to `contact`: every placeholder filled."""
        values = {
            "contact.name": contact.display_name.strip() or UNKNOWN_CONTACT_NAME,
            "contact.phone": contact.phone,
            "agent.name": agent.get_full_name() or agent.username,
        }
        return PLACEHOLDER.sub(lambda match: values.get(match.group(1).strip(), match.group(0)), self.text)
