from django.urls import path

from simulator import views

app_name = "simulator"

urlpatterns = [
    path("", views.phone, name="phone"),
    path("phone/send/", views.send, name="send"),
    path("phone/thread/", views.thread, name="thread"),
    path("phone/media/<str:media_id>/", views.phone_media, name="phone-media"),
    # Plivo's API paths below the base URL the SDK is pointed at (PLIVO_API_BASE_URL).
    path("plivo/<path:path>", views.plivo_api, name="plivo-api"),
]
