"""The project's own system checks, and the same warning at the web server's start."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

SECRET_KEY_IS_PUBLIC = (
    "SECRET_KEY is the development default shipped with the Data Hub, and DEBUG is off: "
    "anyone can sign session cookies and log in as any user. Set SECRET_KEY to a long "
    "random value, e.g. the output of "
    'python -c "import secrets; print(secrets.token_urlsafe(50))".'
)


def secret_key_is_public() -> bool:
    return not settings.DEBUG and settings.SECRET_KEY in settings.DEVELOPMENT_SECRET_KEYS


@checks.register(checks.Tags.security)
def check_secret_key(app_configs, **kwargs) -> list[checks.CheckMessage]:
    if not secret_key_is_public():
        return []
    return [checks.Warning(SECRET_KEY_IS_PUBLIC, id="datahub.W001")]
