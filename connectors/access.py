"""What every view needs first: who may do what, and the object it works on."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django_htmx.http import HttpResponseClientRedirect

from connectors.models import Connector, Task


def require_staff(request: HttpRequest) -> None:
    if not request.user.is_staff:
        raise PermissionDenied("Only Data administrators can change connectors and tasks.")


def connector_for(request: HttpRequest, pk: int, manage: bool = False) -> Connector:
    if manage:
        require_staff(request)
    return get_object_or_404(Connector, pk=pk)


def task_for(request: HttpRequest, pk: int, manage: bool = False) -> Task:
    if manage:
        require_staff(request)
    return get_object_or_404(Task.objects.select_related("connector"), pk=pk)


def posted(request: HttpRequest):
    """The POST data, bound even when empty: an empty POST must show "required" errors."""
    return request.POST if request.method == "POST" else None


def redirect_to(request: HttpRequest, to: str, *args: object) -> HttpResponse:
    response = redirect(to, *args)
    if request.htmx:
        return HttpResponseClientRedirect(response.url)
    return response
