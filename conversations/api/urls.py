from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from conversations.api import (
    agents,
    attachments,
    bulk,
    campaigns,
    canned_replies,
    conversation_start,
    contacts,
    conversations,
    events,
    labels,
    messages,
    notes,
    notifications,
    privacy,
    reports,
    templates,
)

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    *messages.urlpatterns,
    *templates.urlpatterns,
    *conversation_start.urlpatterns,
    *conversations.urlpatterns,
    *bulk.urlpatterns,
    *contacts.urlpatterns,
    *agents.urlpatterns,
    *events.urlpatterns,
    *notes.urlpatterns,
    *notifications.urlpatterns,
    *labels.urlpatterns,
    *canned_replies.urlpatterns,
    *privacy.urlpatterns,
    *reports.urlpatterns,
    *attachments.urlpatterns,
    *campaigns.urlpatterns,
]
