from django.urls import path

from conversations import views

app_name = "conversations"

urlpatterns: list = [
    path("", views.inbox, name="inbox"),
    path("<int:conversation_id>/", views.inbox, name="inbox-conversation"),
    path("media/<int:media_id>/", views.media_file, name="media-file"),
]
