from django.urls import path

from conversations import views
from conversations.reports.views import reports_page

app_name = "conversations"

urlpatterns: list = [
    path("", views.inbox, name="inbox"),
    path("<int:conversation_id>/", views.inbox, name="inbox-conversation"),
    path("reports/", reports_page, name="reports"),
    path("media/<int:media_id>/", views.media_file, name="media-file"),
]
