from django.contrib.auth.models import AnonymousUser
from rest_framework.permissions import BasePermission

AGENTS_GROUP = "Agents"


def user_is_agent(user) -> bool:
    """Agents answer customers: active members of the Agents group, and staff."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return user.groups.filter(name=AGENTS_GROUP).exists()


class IsAgent(BasePermission):
    message = "Only Parley agents can use this."

    def has_permission(self, request, view):
        return user_is_agent(request.user)
