"""Attachments: an agent uploads a file, then sends it with `"attachments": [<id>]` on a send
(`POST /api/v1/messages/` or a conversation's messages). Parley uploads it to Plivo's Media API
when the message goes out, so its storage never has to be public."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.api.input import validated
from conversations.api.messages import AUTHENTICATION
from conversations.api.schema import ERRORS, error_response
from conversations.models import Channel, MediaFile
from conversations.services.attachments import attachment_create


class AttachmentInput(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, help_text="The file (multipart/form-data).")
    channel = serializers.ChoiceField(
        choices=Channel.choices, required=False,
        help_text="Optional: refuse at once what this channel cannot carry (checked again when sending).")


class AttachmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = MediaFile
        fields = ["id", "content_type", "size", "name"]
        read_only_fields = fields


class AttachmentCreateApi(APIView):
    authentication_classes = AUTHENTICATION
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="attachments_create",
        summary="Upload a file to send as an attachment",
        description=(
            "Stores the file and answers its `id`; send it with `\"kind\": \"media\", \"attachments\": [id]`. "
            "The content type is read from the file's bytes. WhatsApp takes images (JPEG, PNG) up to 5 MB, video "
            "(MP4, 3GPP) and audio (MP3, OGG) up to 16 MB, documents (PDF, text, CSV, spreadsheets) up to 100 MB; "
            "MMS up to 5 MB in all."
        ),
        request={"multipart/form-data": AttachmentInput},
        responses={
            201: AttachmentSerializer,
            **ERRORS,
            413: error_response("Larger than ATTACHMENT_MAX_BYTES."),
            422: error_response("A type (or, with `channel`, a size) the channel cannot carry; the reason is given."),
        },
    )
    def post(self, request):
        data = validated(AttachmentInput, request.data)
        media = attachment_create(upload=data["file"], uploaded_by=request.user, channel=data.get("channel"))
        return Response(AttachmentSerializer(media).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("attachments/", AttachmentCreateApi.as_view(), name="attachment-create"),
]
