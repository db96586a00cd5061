from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("plivo/message/", views.plivo_message, name="plivo-message"),
    path("plivo/status/", views.plivo_status, name="plivo-status"),
]
