"""Fast deterministic hashing: every number the emulator serves is derived from these."""

from __future__ import annotations

import hashlib
from functools import lru_cache

_MASK = (1 << 64) - 1
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _mix(x: int) -> int:
    """One splitmix64 finalisation round."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def h64(*parts: int) -> int:
    """A 64-bit hash of a tuple of integers."""
    x = 0
    for part in parts:
        x = _mix(x ^ (part & _MASK))
    return x


@lru_cache(maxsize=65536)
def text_key(text: str) -> int:
    """A stable 64-bit integer for a string (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def unit(h: int) -> float:
    """A float in [0, 1) from a hash."""
    return (h >> 11) * (1.0 / (1 << 53))


def between(h: int, low: float, high: float) -> float:
    return low + (high - low) * unit(h)


def log_between(h: int, low: float, high: float) -> float:
    """Log-uniform in [low, high): most series are small, a few are large."""
    return low * (high / low) ** unit(h)


def pick(h: int, items: tuple | list):
    return items[h % len(items)]


def ident(prefix: str, *parts: int, length: int = 24) -> str:
    """A realistic-looking identifier such as `proj_Ab3...`."""
    chars: list[str] = []
    state = h64(*parts)
    while len(chars) < length:
        state = _mix(state)
        value = state
        for _ in range(10):
            chars.append(_ALPHABET[value % 62])
            value //= 62
    return prefix + "".join(chars[:length])
