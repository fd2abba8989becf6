"""The transport-neutral request and response the emulator answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from connectors.openai.emulator.errors import ApiError


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without answering

    def json(self) -> dict:
        return json.loads(self.body)


def json_response(
    status: int, body: dict | bytes, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """A JSON answer; `body` may already be encoded."""
    payload = (
        body if isinstance(body, bytes) else orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
    )
    found = [("content-type", "application/json"), ("content-length", str(len(payload)))]
    return Response(status, [*found, *headers], payload)


def error_response(error: ApiError) -> Response:
    return json_response(error.status, error.body(), error.headers)


def to_timestamp(moment: int | float | str | datetime) -> int:
    """Unix seconds from an int, a numeric string, an ISO 8601 string or a datetime."""
    if isinstance(moment, datetime):
        return int(moment.timestamp())
    if isinstance(moment, str) and not moment.strip().lstrip("-").isdigit():
        return int(datetime.fromisoformat(moment.strip().replace("Z", "+00:00")).timestamp())
    return int(moment)
