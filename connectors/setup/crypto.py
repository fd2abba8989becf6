"""Keeping connector secrets (the admin key) secret: encrypted at rest, hidden from
error reports.

Fernet keys come from `DATAHUB_ENCRYPTION_KEY` (comma-separated: the first encrypts, every
one decrypts, so a key can be rotated without losing secrets). When it is unset, a local
key is generated once and kept in `var/encryption.key`.

Every function that holds a plain key is marked with `sensitive_variables()`, and the
views that receive one with `sensitive_post_parameters`. Django honours those marks only
with DEBUG off; `SecretsHiddenReporterFilter` honours them with DEBUG on too, so the debug
page never shows a key either.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.views.debug import SafeExceptionReporterFilter
from django.views.decorators.debug import sensitive_variables

from datahub.local_secret import local_secret


class SecretError(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


@cache
def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.DATAHUB_ENCRYPTION_KEY.split(",") if k.strip()]
    if not keys:
        keys = [_local_key()]
    return MultiFernet([Fernet(key) for key in keys])


def _local_key() -> str:
    return local_secret(
        settings.DATAHUB_ENCRYPTION_KEY_FILE, lambda: Fernet.generate_key().decode()
    )


class SecretsHiddenReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, active whatever DEBUG says (settings.DEFAULT_EXCEPTION_REPORTER_FILTER):
    a debug page left on in production must not hand out the admin key."""

    def is_active(self, request) -> bool:
        return True


@sensitive_variables()
def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


@sensitive_variables()
def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretError(
            "The stored admin key cannot be decrypted: DATAHUB_ENCRYPTION_KEY does not "
            "hold the key it was encrypted with."
        ) from None


@sensitive_variables()
def rotate(token: str) -> str:
    """Re-encrypt a token with the first (newest) key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretError(
            "A stored admin key cannot be decrypted with any configured key."
        ) from None


def reset_cache() -> None:
    _fernet.cache_clear()
