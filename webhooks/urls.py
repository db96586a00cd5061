from django.urls import path

from webhooks import views

app_name = "webhooks"

# An operator may paste either spelling into the Plivo console. Without the second pattern
# APPEND_SLASH answers a slashless POST with a redirect Plivo does not follow (a 500 under
# DEBUG). Each is signed as called, so the signature check sees the path Plivo used.
urlpatterns = [
    path("plivo/message/", views.plivo_message, name="plivo-message"),
    path("plivo/message", views.plivo_message, name="plivo-message-without-slash"),
    path("plivo/status/", views.plivo_status, name="plivo-status"),
    path("plivo/status", views.plivo_status, name="plivo-status-without-slash"),
]
