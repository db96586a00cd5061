"""The agents a conversation can be assigned to."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.api.schema import ERRORS
from conversations.permissions import agent_list
from conversations.serializers import AgentSerializer


class AgentListApi(APIView):
    @extend_schema(
        operation_id="agents_list",
        summary="Agents a conversation can be assigned to",
        responses={200: AgentSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        return Response(AgentSerializer(agent_list(), many=True).data)


urlpatterns = [path("agents/", AgentListApi.as_view(), name="agent-list")]
