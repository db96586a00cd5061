"""What a send request may carry: the content of a text, media, template, interactive or location message."""

from rest_framework import serializers

from conversations.models import Channel
from conversations.outbound import KINDS


class TemplateParametersInput(serializers.Serializer):
    header = serializers.ListField(child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False,
                                   help_text="The header's values: text variables, or the media URL of a media header.")
    body = serializers.ListField(child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False,
                                 help_text="Values of {{1}}, {{2}}, ... in the body, in order.")
    buttons = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(allow_blank=True, trim_whitespace=False)), required=False,
        help_text='Per button index ("0"), its values: the variable of a url button.')


class TemplateCallInput(serializers.Serializer):
    name = serializers.CharField(max_length=512)
    language = serializers.CharField(max_length=16, help_text="e.g. en_US")
    parameters = TemplateParametersInput(required=False, help_text="Counts must match the template's `parameter_slots`.")


class InteractiveHeaderInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=["text", "image", "video", "document"], default="text")
    text = serializers.CharField(required=False, allow_blank=True, help_text="Up to 60 characters.")
    media = serializers.CharField(required=False, help_text="An http(s) URL, for a media header.")


class InteractiveTextInput(serializers.Serializer):
    text = serializers.CharField(allow_blank=True)


class InteractiveButtonInput(serializers.Serializer):
    id = serializers.CharField(required=False, allow_blank=True, help_text="Returned with the customer's reply.")
    title = serializers.CharField(allow_blank=True, help_text="Up to 20 characters.")
    cta_url = serializers.CharField(required=False, help_text="cta_url messages: the http(s) link.")


class InteractiveRowInput(serializers.Serializer):
    id = serializers.CharField(required=False, allow_blank=True)
    title = serializers.CharField(allow_blank=True, help_text="Up to 24 characters.")
    description = serializers.CharField(required=False, allow_blank=True, help_text="Up to 72 characters.")


class InteractiveSectionInput(serializers.Serializer):
    title = serializers.CharField(required=False, allow_blank=True)
    rows = InteractiveRowInput(many=True)


class InteractiveActionInput(serializers.Serializer):
    buttons = InteractiveButtonInput(many=True, required=False, help_text="button: 1-3 quick replies; cta_url: one link.")
    sections = InteractiveSectionInput(many=True, required=False, help_text="list: up to 10 rows in all.")


class InteractiveInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=["button", "list", "cta_url"])
    header = InteractiveHeaderInput(required=False)
    body = InteractiveTextInput(help_text="Up to 1024 characters.")
    footer = InteractiveTextInput(required=False, help_text="Up to 60 characters.")
    action = InteractiveActionInput()


class LocationInput(serializers.Serializer):
    latitude = serializers.CharField(help_text="Decimal degrees, -90 to 90.")
    longitude = serializers.CharField(help_text="Decimal degrees, -180 to 180.")
    name = serializers.CharField(help_text="The place's name, shown in bold (required by WhatsApp).")
    address = serializers.CharField(help_text="The street address under the name (required by WhatsApp).")


class MessageContentInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(KINDS), required=False,
                                   help_text="text (the default), media, template, interactive or location; "
                                             "template, interactive and location are WhatsApp only.")
    type = serializers.ChoiceField(choices=list(KINDS), required=False,
                                   help_text="Deprecated: the former name of `kind`, still accepted.")
    text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="",
                                 help_text="text: the message (WhatsApp 4096, SMS 1600 characters); media: the caption.")
    media_urls = serializers.ListField(child=serializers.CharField(max_length=2000), required=False, default=list,
                                       help_text="media: http(s) URLs (WhatsApp one, MMS up to 10).")
    attachments = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list,
                                        max_length=10,
                                        help_text="media: ids of your uploads (POST /api/v1/attachments/), beside or "
                                                  "instead of media_urls; sent through Plivo's Media API.")
    template = TemplateCallInput(required=False)
    interactive = InteractiveInput(required=False)
    location = LocationInput(required=False)

    def validate(self, data):
        # `kind` is what messages call it everywhere else; `type` stays accepted for older clients.
        kind, legacy = data.pop("kind", None), data.pop("type", None)
        if kind and legacy and kind != legacy:
            raise serializers.ValidationError({"kind": "Send `kind` only (`type` is its deprecated name)."}, code="conflict")
        # Uploaded files without a kind: a media message.
        default = "media" if data.get("attachments") else "text"
        data["kind"] = kind or legacy or default
        return data


class MessageSendInput(MessageContentInput):
    to = serializers.CharField(max_length=40, help_text="The customer's number, best in E.164 (+14155550123).")
    channel = serializers.ChoiceField(choices=Channel.choices)
