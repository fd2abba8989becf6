"""What every answer to a hostile request must satisfy: no server error, no traceback, no
key material; and how a refused request is recognised."""

from __future__ import annotations

import base64

from tests.security.hostile import Attempt

# What a traceback or a database error looks like in a page.
TRACEBACK_MARKERS = (
    "Traceback (most recent call last)",
    "Exception Value:",
    "Exception Type:",
    'File "/',
    "site-packages/",
    "psycopg.errors",
    "django.db.utils",
    "Server Error (500)",
)
FORM_ERROR_MARKERS = (b'class="error"', b'class="errorlist', b'class="errornote')


def key_fragments(keys: list[str], ciphertexts: list[str], width: int = 8) -> list[str]:
    """Pieces a page holding key material would show: every `width` characters of each
    key (after the prefix all keys of its kind share: `sk-admin-`, `dh_`) and of its
    base64, and each 16 characters of a ciphertext at rest."""
    found = set()
    for key in filter(None, keys):
        # a Data API key's prefix names it in its list: only the part after it is secret
        tail = key.split("_", 2)[-1] if key.startswith("dh_") else key.removeprefix("sk-admin-")
        for text in (tail, base64.b64encode(key.encode()).decode()):
            found |= {text[i : i + width] for i in range(len(text) - width + 1)}
    for text in ciphertexts:
        found |= {text[i : i + 16] for i in range(0, len(text) - 15, 16)}
    return sorted(found)


def refused(status: int, body: bytes) -> bool:
    return 400 <= status < 500 or any(m in body for m in FORM_ERROR_MARKERS)


def findings(
    attempt: Attempt, status: int, headers: list[tuple[str, str]], body: bytes, fragments
) -> list[str]:
    """What is wrong with an answer: a server error, a traceback, key material."""
    found = []
    if status >= 500:
        found.append(f"status {status}")
    text = body.decode("utf-8", "replace")
    sent = " ".join(attempt.sent())
    for marker in TRACEBACK_MARKERS:
        if marker in text and marker not in sent:
            found.append(f"traceback text {marker!r} in the body")
    head = " ".join(f"{k}: {v}" for k, v in headers)
    for fragment in fragments:
        if fragment in text or fragment in head:
            found.append(
                f"key material {fragment[:2]}… in the {'body' if fragment in text else 'headers'}"
            )
            break
    if any(k.lower() == "x-injected" for k, _ in headers):
        found.append("a header injected through a value")
    return found
