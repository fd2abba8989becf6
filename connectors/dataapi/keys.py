"""Data API keys: made, checked, revoked. A key is `dh_<prefix>_<secret>`: the prefix
finds its row, the secret (32 random bytes) is checked against its stored SHA-256.
The key itself is returned once by `key_create` and kept nowhere."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from connectors.models import Connector, DataApiKey

SCHEME = "dh"
LAST_USED_EVERY = timedelta(minutes=1)  # `last_used_at` is written at most this often


@dataclass(frozen=True)
class NewKey:
    key: DataApiKey
    secret: str  # the whole key, to show once


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def key_create(
    name: str,
    created_by=None,
    expires_at: datetime | None = None,
    connectors: list[Connector] | None = None,
) -> NewKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = DataApiKey.objects.create(
        name=name,
        prefix=prefix,
        secret_hash=_hash(secret),
        created_by=created_by,
        expires_at=expires_at,
        limited=bool(connectors),
    )
    if connectors:
        key.connectors.set(connectors)
    return NewKey(key, f"{SCHEME}_{prefix}_{secret}")


def key_revoke(key: DataApiKey) -> None:
    """Revoke once: a second revoke keeps the first time."""
    DataApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def key_authenticate(presented: str) -> tuple[DataApiKey | None, str]:
    """The active key `presented` is, or (None, why not in words)."""
    presented = presented.strip()
    if not (presented.isascii() and presented.isprintable()):  # a NUL no column can hold
        return None, "This is not a Data API key (they start with dh_)."
    scheme, _, rest = presented.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != SCHEME or not prefix or not secret:
        return None, "This is not a Data API key (they start with dh_)."
    key = DataApiKey.objects.filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(secret)):
        return None, "Unknown Data API key."
    if key.state == "revoked":
        return None, "This Data API key was revoked."
    if key.state == "expired":
        return None, "This Data API key has expired."
    _note_use(key)
    return key, ""


def _note_use(key: DataApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
        DataApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


def allowed_connectors(key: DataApiKey) -> set[int] | None:
    """The connector ids the key may read, or None for every connector."""
    if not key.limited:
        return None
    return set(key.connectors.values_list("pk", flat=True))
