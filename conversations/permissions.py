from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from rest_framework.permissions import BasePermission

AGENTS_GROUP = "Agents"


def user_is_agent(user) -> bool:
    """Agents answer customers: active members of the Agents group, and staff."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return user.groups.filter(name=AGENTS_GROUP).exists()


def agent_list() -> QuerySet:
    """Everyone `user_is_agent` admits (the same rule, as a query), by name."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_staff=True) | Q(is_superuser=True) | Q(groups__name=AGENTS_GROUP))
        .distinct()
        .order_by("first_name", "username")
    )


class IsAgent(BasePermission):
    message = "Only Parley agents can use this."

    def has_permission(self, request, view):
        return user_is_agent(request.user)


CAMPAIGN_MANAGERS_GROUP = "Campaign managers"


def user_is_campaign_manager(user) -> bool:
    """Campaigns send to thousands at once: staff, and agents in the Campaign managers group."""
    if not user_is_agent(user):
        return False
    return user.is_staff or user.is_superuser or user.groups.filter(name=CAMPAIGN_MANAGERS_GROUP).exists()


class IsCampaignManager(BasePermission):
    message = "Only staff and members of the Campaign managers group can manage campaigns."

    def has_permission(self, request, view):
        return user_is_campaign_manager(request.user)
