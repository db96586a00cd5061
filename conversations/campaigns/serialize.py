"""How a campaign and its recipients look in the API and in `campaign.updated` events."""

from rest_framework import serializers

from conversations.campaign_models import Campaign, CampaignRecipient


class CountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    pending = serializers.IntegerField()
    skipped = serializers.IntegerField()
    queued = serializers.IntegerField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    read = serializers.IntegerField()
    failed = serializers.IntegerField()
    replied = serializers.IntegerField()


class CampaignSerializer(serializers.ModelSerializer):
    template = serializers.SerializerMethodField(help_text="WhatsApp: {name, language}; null for SMS.")
    created_by = serializers.SerializerMethodField()
    counts = CountsSerializer(read_only=True)
    delivery_rate = serializers.FloatField(read_only=True, allow_null=True,
                                           help_text="Delivered (or read, or replied) out of the messages handed to Plivo.")
    read_rate = serializers.FloatField(read_only=True, allow_null=True)
    progress = serializers.FloatField(read_only=True, help_text="Share of recipients no longer pending (0 to 1).")
    rate_per_second_effective = serializers.FloatField(read_only=True,
                                                       help_text="The rate it is queued at: its own, within the account's limit and the sender's MPS.")
    estimated_finish_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Campaign
        fields = ["id", "name", "channel", "template", "text", "scheduled_at", "rate_per_second", "status", "failure_reason",
                  "created_by", "created_at", "started_at", "finished_at", "counts", "delivery_rate", "read_rate", "progress",
                  "rate_per_second_effective", "estimated_finish_at"]
        read_only_fields = fields

    def get_template(self, campaign) -> dict | None:
        return {"name": campaign.template_name, "language": campaign.template_language} if campaign.channel == "whatsapp" else None

    def get_created_by(self, campaign) -> str | None:
        user = campaign.created_by
        return (user.get_full_name() or user.username) if user else None


def campaign_represent(campaign: Campaign, summary: dict) -> dict:
    return CampaignSerializer(_WithSummary(campaign, summary)).data


class _WithSummary:
    """The campaign with its derived figures as attributes, for the serializer."""

    def __init__(self, campaign, summary):
        self._campaign = campaign
        self._summary = summary

    def __getattr__(self, name):
        if name in self._summary:
            return self._summary[name]
        return getattr(self._campaign, name)


class RecipientSerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="result", help_text="pending, skipped, queued, sent, delivered, read, failed or replied.")
    error = serializers.SerializerMethodField(help_text="Plivo's reason when failed.")
    message_status = serializers.SerializerMethodField()

    class Meta:
        model = CampaignRecipient
        fields = ["id", "phone", "parameters", "status", "skip_reason", "skip_detail", "error", "message_id", "message_status",
                  "not_before", "queued_at", "replied_at"]
        read_only_fields = fields

    def get_error(self, recipient) -> str:
        from conversations.campaigns.results import recipient_error

        return recipient_error(recipient)

    def get_message_status(self, recipient) -> str | None:
        return recipient.message.status if recipient.message_id and recipient.message else None
