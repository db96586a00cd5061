from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from messaging_site.health import healthz, readyz


urlpatterns = [
    path("", RedirectView.as_view(url="/inbox/", permanent=False)),
    path("healthz/", healthz, name="healthz"),
    path("readyz/", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("inbox/", include("conversations.urls")),
    path("campaigns/", include("conversations.campaigns.urls")),
    path("api/v1/", include("conversations.api.urls")),
    path("webhooks/", include("webhooks.urls")),
]

# The simulator exists only in DEBUG; settings refuse PLIVO_SIMULATOR without DEBUG.
if settings.PLIVO_SIMULATOR and settings.DEBUG:
    urlpatterns.append(path("simulator/", include("simulator.urls")))
