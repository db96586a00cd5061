from django.urls import path

from conversations.campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaigns_page, name="page"),
    path("<int:campaign_id>/", views.campaigns_page, name="detail"),
]
