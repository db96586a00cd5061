"""Writing the audit log: `audit_record()`, called by the service that performs an action.

The request being served is kept in a context variable by `AuditRequestMiddleware`, so a
service or signal deep below a view (an admin save, a status change) records who acted and
from which address without every signature carrying the request.
"""

from contextvars import ContextVar

from asgiref.sync import iscoroutinefunction
from axes.helpers import get_client_ip_address
from django.utils.decorators import sync_and_async_middleware

from conversations.privacy.models import AuditEntry

_current_request: ContextVar = ContextVar("parley_audit_request", default=None)


@sync_and_async_middleware
def AuditRequestMiddleware(get_response):  # noqa: N802 (named as the middleware it is)
    """Keeps the request for `audit_record`. Async-capable: a sync-only middleware would run
    every async view (the simulator's long polls) on the one sync thread."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            token = _current_request.set(request)
            try:
                return await get_response(request)
            finally:
                _current_request.reset(token)

    else:

        def middleware(request):
            token = _current_request.set(request)
            try:
                return get_response(request)
            finally:
                _current_request.reset(token)

    return middleware


def current_request():
    return _current_request.get()


def _request_user(request):
    user = getattr(request, "user", None)
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def audit_record(*, actor=None, action: str, target=None, details: dict | None = None, request=None) -> AuditEntry:
    """Append one entry. `actor` defaults to the signed-in user of the current request (None:
    Parley itself or a customer); `target` is the model instance acted on (or None). Call it
    inside the action's transaction, so an action rolled back leaves no entry."""
    request = request or current_request()
    if actor is None and request is not None:
        actor = _request_user(request)
    ip_address = get_client_ip_address(request) if request is not None else None
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=(actor.get_username() if actor is not None and getattr(actor, "pk", None) else "")[:150],
        action=action,
        object_type=target._meta.label_lower if target is not None else "",
        object_id=str(target.pk) if target is not None else "",
        details=details or {},
        ip_address=ip_address or None,
    )


# --- one-line hooks for the conversation services -------------------------------------------
def audit_assignment(*, conversation, by, before_id) -> None:
    if conversation.assignee_id != before_id:
        audit_record(
            actor=by,
            action="conversation.assigned" if conversation.assignee_id else "conversation.unassigned",
            target=conversation,
            details={"from": before_id, "to": conversation.assignee_id},
        )


def audit_status_change(*, conversation, to: str) -> None:
    """Call before `conversation.status` changes to `to`."""
    audit_record(action="conversation.status", target=conversation, details={"from": conversation.status, "to": to})
