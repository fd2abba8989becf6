"""Template context every page gets."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def charts_script(request: HttpRequest) -> dict[str, str]:
    """The static path of the charts' Plotly bundle (see settings.PLOTLY_JS)."""
    return {"plotly_js": settings.PLOTLY_JS}
