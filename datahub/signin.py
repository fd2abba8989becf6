"""Sign-in throttling (django-axes): whose address a request comes from, and the page a
locked-out sign-in gets."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

USERNAME_LENGTH = 150  # django.contrib.auth's User.username


def client_ip(request: HttpRequest) -> str | None:
    """The address failed sign-ins are counted against.

    The TCP peer (REMOTE_ADDR), unless TRUSTED_PROXY_COUNT reverse proxies stand in front:
    then the address the outermost of them saw, the entry that many places from the right
    of X-Forwarded-For (each proxy appends its peer, so the entries to the left of it are
    whatever the client chose to send and are never trusted).
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if proxies <= 0 or len(hops) < proxies:
        return request.META.get("REMOTE_ADDR")
    return hops[-proxies]


def username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The username failures are counted against, cut to the longest a user can have
    (150 characters): a longer one would not fit the failures' table."""
    if credentials:
        name = credentials.get(settings.AXES_USERNAME_FORM_FIELD)
    else:
        name = request.POST.get(settings.AXES_USERNAME_FORM_FIELD)
    return name[:USERNAME_LENGTH] if isinstance(name, str) else name


def lockout_minutes() -> int:
    return max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The login page again, empty, saying in words why and for how long (429)."""
    minutes = lockout_minutes()
    context = {
        "form": AuthenticationForm(request, initial={"username": request.POST.get("username")}),
        "next": request.POST.get("next", "") or request.GET.get("next", ""),
        "locked_out": (
            f"Too many failed sign-ins; try again in {minutes} minute{'s' if minutes != 1 else ''}."
        ),
    }
    return render(request, "registration/login.html", context, status=429)
