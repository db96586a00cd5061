"""Campaigns: create one, change a draft's name, schedule or rate, add its recipients (batches, a
CSV file, a label), start / pause / resume / stop it, and read its results (counts, per-recipient
list, CSV export).

Staff and members of the Campaign managers group only. Lifecycle refusals are 409s whose message
says why (`conversations.campaigns.lifecycle`).
"""

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.api.input import validated
from conversations.api.messages import AUTHENTICATION
from conversations.api.schema import ERRORS, error_response
from conversations.campaign_models import Campaign
from conversations.models import Channel
from conversations.campaigns import editing, lifecycle, recipients, results
from conversations.campaigns.serialize import CampaignSerializer, RecipientSerializer, campaign_represent
from conversations.permissions import IsCampaignManager
from messaging_site.errors import ApplicationError

CONFLICT = {409: error_response("The campaign's state does not allow this (the message says why).")}


def _campaign(pk: int) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("created_by"), pk=pk)


def _represent(campaign: Campaign) -> dict:
    return campaign_represent(campaign, results.campaign_summary(campaign))


class TemplateRefInput(serializers.Serializer):
    name = serializers.CharField(max_length=512)
    language = serializers.CharField(max_length=16)


class CampaignCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(choices=Channel.choices)
    template = TemplateRefInput(required=False, help_text="WhatsApp: an approved template.")
    text = serializers.CharField(required=False, allow_blank=True, max_length=1600,
                                 help_text="SMS: the text; {{1}}, {{2}}... are each recipient's parameters.")
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True,
                                             help_text="When to start sending once started; omitted: at once.")
    rate_per_second = serializers.FloatField(required=False, allow_null=True, min_value=0.01,
                                             help_text="Messages per second, to go slower than the account allows.")


class CampaignEditInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True,
                                             help_text="A time ahead; null unschedules (a scheduled campaign goes back to draft).")
    rate_per_second = serializers.FloatField(required=False, allow_null=True, min_value=0.01,
                                             help_text="Messages per second, to go slower than the account allows; null: no cap.")

    def to_internal_value(self, data):
        if isinstance(data, dict):
            for key in data:
                if key not in self.fields:
                    raise ApplicationError(f"{key} cannot be changed; a campaign's name, scheduled_at and rate_per_second can.",
                                           code="not_editable", field=key, status=400)
            if not data:
                raise ApplicationError("Give name, scheduled_at or rate_per_second to change.", code="required",
                                       field=None, status=400)
        return super().to_internal_value(data)


class CampaignListCreateApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsCampaignManager]

    @extend_schema(operation_id="campaigns_list", summary="Campaigns, newest first, with their counts",
                   responses={200: CampaignSerializer(many=True), **ERRORS})
    def get(self, request):
        campaigns = Campaign.objects.select_related("created_by").order_by("-created_at", "-id")[:200]
        return Response([_represent(campaign) for campaign in campaigns])

    @extend_schema(operation_id="campaigns_create", summary="Create a campaign (a draft)", request=CampaignCreateInput,
                   responses={201: CampaignSerializer, **ERRORS, 422: error_response("The template cannot be sent.")})
    def post(self, request):
        data = validated(CampaignCreateInput, request.data)
        campaign = lifecycle.campaign_create(created_by=request.user, **data)
        return Response(_represent(campaign), status=status.HTTP_201_CREATED)


class CampaignDetailApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsCampaignManager]

    @extend_schema(operation_id="campaigns_get", summary="A campaign with its counts, rates, progress and estimated finish",
                   responses={200: CampaignSerializer, **ERRORS})
    def get(self, request, pk: int):
        return Response(_represent(_campaign(pk)))

    @extend_schema(operation_id="campaigns_edit", summary="Change a draft or scheduled campaign's name, schedule or rate",
                   description="Only the fields given change. `scheduled_at: null` unschedules: a scheduled campaign goes "
                               "back to draft; a time ahead keeps a scheduled campaign scheduled (a draft stays a draft "
                               "until started). A time in the past is a 400 naming `scheduled_at`; any other state "
                               "(sending, paused, finished, or a scheduled campaign whose time has come) is a 409. Audited.",
                   request=CampaignEditInput, responses={200: CampaignSerializer, **ERRORS, **CONFLICT})
    def patch(self, request, pk: int):
        data = validated(CampaignEditInput, request.data)
        campaign = editing.campaign_edit(campaign=_campaign(pk), by=request.user, **data)
        return Response(_represent(campaign))


def _transition_view(action: str, service, summary: str):
    class TransitionApi(APIView):
        authentication_classes = AUTHENTICATION
        permission_classes = [IsCampaignManager]

        @extend_schema(operation_id=f"campaigns_{action}", summary=summary, request=None,
                       responses={200: CampaignSerializer, **ERRORS, **CONFLICT})
        def post(self, request, pk: int):
            campaign = service(campaign=_campaign(pk), by=request.user)
            return Response(_represent(campaign))

    TransitionApi.__name__ = f"Campaign{action.capitalize()}Api"
    return TransitionApi


class RecipientInput(serializers.Serializer):
    phone = serializers.CharField(max_length=64, allow_blank=True)
    parameters = serializers.ListField(child=serializers.JSONField(), required=False, default=list,
                                       help_text="The template's parameters (header, body, buttons, in order) or the SMS text's {{n}}.")


class RecipientsAddInput(serializers.Serializer):
    recipients = RecipientInput(many=True, required=False, help_text=f"Up to {recipients.MAX_BATCH} per call.")
    label = serializers.CharField(required=False, max_length=40, help_text="Instead: everyone whose conversation carries this label.")
    parameters = serializers.ListField(child=serializers.JSONField(), required=False, default=list,
                                       help_text="With `label`: the parameters every one of them gets.")


class RecipientsCsvInput(serializers.Serializer):
    file = serializers.FileField(help_text="CSV with a header row: a phone column and one column per parameter.")
    phone_column = serializers.CharField(required=False, help_text='The phone column\'s name (default: "phone", else the first).')
    parameter_columns = serializers.CharField(required=False,
                                              help_text="The parameter columns in order, comma-separated (default: all the others).")


AddResultSerializer = inline_serializer("RecipientsAdded", {
    "added": serializers.IntegerField(),
    "skipped": serializers.IntegerField(),
    "skipped_rows": serializers.ListField(child=serializers.DictField(), help_text="{row, phone, reason, detail}, the first 1,000."),
})


class RecipientListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=results.RESULTS, required=False)
    after = serializers.IntegerField(required=False, min_value=0, help_text="The last id of the previous page.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)


class CampaignRecipientsApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsCampaignManager]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(operation_id="campaigns_recipients_list", summary="A campaign's recipients and their results",
                   parameters=[RecipientListQuery],
                   responses={200: inline_serializer("RecipientPage", {
                       "results": RecipientSerializer(many=True),
                       "next_after": serializers.IntegerField(allow_null=True)}), **ERRORS})
    def get(self, request, pk: int):
        params = validated(RecipientListQuery, request.query_params)
        page = results.recipient_list(_campaign(pk), status=params.get("status"), after=params.get("after"),
                                      limit=params["limit"] + 1)
        more = len(page) > params["limit"]
        page = page[: params["limit"]]
        return Response({"results": RecipientSerializer(page, many=True).data, "next_after": page[-1].id if more else None})

    @extend_schema(
        operation_id="campaigns_recipients_add",
        summary="Add recipients: a batch, a CSV file (multipart `file`) or a label",
        description="Only while the campaign is a draft or scheduled. Rows that cannot be sent to are kept as skipped, "
                    "with their reason (invalid_number, duplicate, opted_out, no_opt_in, invalid_parameters).",
        request={"application/json": RecipientsAddInput, "multipart/form-data": RecipientsCsvInput},
        responses={201: AddResultSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request, pk: int):
        campaign = _campaign(pk)
        if "file" in request.FILES or (request.content_type or "").startswith("multipart/"):
            data = validated(RecipientsCsvInput, request.data)
            columns = [name for name in (data.get("parameter_columns") or "").split(",") if name.strip()]
            result = recipients.recipients_add_csv(campaign=campaign, data=data["file"].read(),
                                                   phone_column=data.get("phone_column"), parameter_columns=columns or None)
        else:
            data = validated(RecipientsAddInput, request.data)
            if data.get("label"):
                result = recipients.recipients_add_label(campaign=campaign, label=data["label"], parameters=data["parameters"])
            elif "recipients" in data:
                result = recipients.recipients_add_batch(campaign=campaign, recipients=data["recipients"])
            else:
                raise ApplicationError("Give recipients, a label, or a CSV file.", code="required", field="recipients", status=400)
        return Response(result.as_dict(), status=status.HTTP_201_CREATED)


class CampaignExportApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsCampaignManager]

    @extend_schema(operation_id="campaigns_export", summary="The per-recipient results as CSV",
                   responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR), **ERRORS})
    def get(self, request, pk: int):
        campaign = _campaign(pk)
        response = StreamingHttpResponse(results.campaign_export_csv(campaign), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-results.csv"'
        return response


urlpatterns = [
    path("campaigns/", CampaignListCreateApi.as_view(), name="campaign-list"),
    path("campaigns/<int:pk>/", CampaignDetailApi.as_view(), name="campaign-detail"),
    path("campaigns/<int:pk>/recipients/", CampaignRecipientsApi.as_view(), name="campaign-recipients"),
    path("campaigns/<int:pk>/export/", CampaignExportApi.as_view(), name="campaign-export"),
    *[
        path(f"campaigns/<int:pk>/{action}/", _transition_view(action, service, summary).as_view(), name=f"campaign-{action}")
        for action, service, summary in [
            ("start", lifecycle.campaign_start, "Start a draft: scheduled if its time is ahead, else sending now"),
            ("pause", lifecycle.campaign_pause, "Pause a sending campaign"),
            ("resume", lifecycle.campaign_resume, "Resume a paused campaign"),
            ("stop", lifecycle.campaign_stop, "Stop for good: recipients not yet queued are never sent"),
        ]
    ],
]
