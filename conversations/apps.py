from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class ConversationsConfig(AppConfig):
    name = "conversations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        checks.register(check_plivo_settings, checks.Tags.compatibility)

        from conversations import signals
        from conversations.privacy import signals as audit_signals

        signals.connect()
        audit_signals.connect()


def check_plivo_settings(app_configs=None, **kwargs):
    """Missing Plivo credentials: a warning while developing, an error in production."""
    level = checks.Warning if settings.DEBUG else checks.Error
    problems = []
    missing = [name for name in ("PLIVO_AUTH_ID", "PLIVO_AUTH_TOKEN") if not getattr(settings, name)]
    if missing:
        problems.append(
            level(
                f"{' and '.join(missing)} not set: Parley cannot send messages or check webhook signatures.",
                hint="Set them from the Plivo console (Account > Overview), or run with DEBUG=true to use the simulator.",
                id="parley.E001" if level is checks.Error else "parley.W001",
            )
        )
    if not (settings.PLIVO_WHATSAPP_NUMBER or settings.PLIVO_SMS_NUMBER):
        problems.append(
            level(
                "Neither PLIVO_WHATSAPP_NUMBER nor PLIVO_SMS_NUMBER is set: there is no number to send from.",
                hint="Set the E.164 numbers of your Plivo WhatsApp sender and/or SMS number.",
                id="parley.E002" if level is checks.Error else "parley.W002",
            )
        )
    from django.core.exceptions import ImproperlyConfigured

    from conversations.campaigns.rules import quiet_hours_parse
    from conversations.outbound.pacing import rate_parse, sender_mps_parse

    for name, parse in (("PLIVO_API_RATE_LIMIT", rate_parse), ("PLIVO_SENDER_MPS", sender_mps_parse),
                        ("CAMPAIGN_QUIET_HOURS", quiet_hours_parse)):
        try:
            parse(getattr(settings, name))
        except ImproperlyConfigured as exc:
            problems.append(checks.Error(str(exc), id="parley.E004"))
    if not settings.DEBUG and not settings.PUBLIC_BASE_URL.startswith("https://"):
        problems.append(
            checks.Error(
                "PUBLIC_BASE_URL must be the https origin Plivo reaches Parley at.",
                hint="For example https://parley.example.com; webhook signatures are checked against it.",
                id="parley.E003",
            )
        )
    return problems
