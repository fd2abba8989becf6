"""Injected faults: rate limits, server errors, latency, dropped connections, bad bodies.

Random faults come from a seeded generator that draws the same number of values for
every request, so a run with the same seed and the same requests fails the same way.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import asdict, dataclass, field

from connectors.openai.emulator.errors import ApiError

FAULT_KINDS = ("429", "500", "502", "503", "drop", "truncate", "malformed")
_BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class FaultConfig:
    """Server-wide fault settings. Rates are probabilities per request (0..1)."""

    rate_429: float = 0.0
    rate_5xx: float = 0.0  # split evenly between 500, 502 and 503
    rate_drop: float = 0.0
    rate_truncate: float = 0.0
    rate_malformed: float = 0.0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    retry_after: int = 1
    fail_nth: dict[int, str] = field(default_factory=dict)  # request number (from 1) -> kind
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    fault: str | None
    delay: float  # seconds
    retry_after: int


class Faults:
    """Decides, per request, whether and how it fails."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        for kind in config.fail_nth.values():
            check_kind(kind)
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._queue: deque[str] = deque()

    def fail_next(self, kind: str, times: int = 1) -> None:
        """Fail the next `times` requests with `kind`, before any other rule applies."""
        check_kind(kind)
        with self._lock:
            self._queue.extend([kind] * times)

    def decide(self, number: int, headers: dict[str, str]) -> Decision:
        config = self.config
        with self._lock:
            draws = (self._rng.random(), self._rng.random(), self._rng.random())
            queued = self._queue.popleft() if self._queue else None
        forced = headers.get("x-emulator-fault")
        if forced:
            kind = None if forced == "none" else check_kind(forced)
        else:
            kind = queued or config.fail_nth.get(number) or _random_kind(config, draws)
        delay = config.latency_ms + config.jitter_ms * draws[2]
        delay += _number(headers, "x-emulator-latency-ms") or 0.0
        retry_after = int(_number(headers, "x-emulator-retry-after") or config.retry_after)
        return Decision(kind, delay / 1000, retry_after)


def check_kind(kind: str) -> str:
    if kind not in FAULT_KINDS:
        raise ValueError(f"Unknown fault {kind!r}: expected one of {', '.join(FAULT_KINDS)}")
    return kind


def _number(headers: dict[str, str], name: str) -> float | None:
    value = headers.get(name)
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _random_kind(config: FaultConfig, draws: tuple[float, float, float]) -> str | None:
    roll = draws[0]
    for kind, rate in (
        ("429", config.rate_429),
        ("5xx", config.rate_5xx),
        ("drop", config.rate_drop),
        ("truncate", config.rate_truncate),
        ("malformed", config.rate_malformed),
    ):
        if roll < rate:
            return ("500", "502", "503")[int(draws[1] * 3)] if kind == "5xx" else kind
        roll -= rate
    return None


def fault_error(kind: str, retry_after: int) -> ApiError | None:
    """The error a status fault answers with (502 is answered by `bad_gateway_body`)."""
    if kind == "429":
        message = (
            "Rate limit reached for requests per min (RPM): Limit 60, Used 60, Requested 1. "
            f"Please try again in {retry_after}s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more."
        )
        headers = (("retry-after", str(retry_after)),)
        return ApiError(429, message, kind="requests", code="rate_limit_exceeded", headers=headers)
    if kind == "500":
        message = "The server had an error while processing your request. Sorry about that!"
        return ApiError(500, message, kind="server_error")
    if kind == "503":
        message = "The server is overloaded or not ready yet."
        return ApiError(503, message, kind="server_error")
    return None


def bad_gateway_body() -> bytes:
    """A 502 comes from the gateway in front of the API: HTML, not JSON."""
    return _BAD_GATEWAY


def corrupt(kind: str, body: bytes) -> bytes:
    if kind == "truncate":
        return body[: max(1, len(body) // 2)]
    return body.replace(b":", b";", 1) if b":" in body else b"{"
