"""The labels agents can put on conversations (staff manage them in the admin)."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations import selectors
from conversations.api.schema import ERRORS
from conversations.serializers import LabelSerializer


class LabelListApi(APIView):
    @extend_schema(
        operation_id="labels_list",
        summary="Every label, by name",
        description="Set a conversation's labels with `PATCH /api/v1/conversations/{id}/` `{\"labels\": [names]}`.",
        responses={200: LabelSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        return Response(LabelSerializer(selectors.label_list(), many=True).data)


urlpatterns = [path("labels/", LabelListApi.as_view(), name="label-list")]
