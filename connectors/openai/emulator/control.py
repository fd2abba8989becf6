"""Test-only endpoints under /_emulator/: the request log, reset, clock and faults."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from connectors.openai.emulator.clock import Clock
from connectors.openai.emulator.errors import ApiError, invalid, not_found
from connectors.openai.emulator.faults import FaultConfig, Faults
from connectors.openai.emulator.log import RequestLog
from connectors.openai.emulator.params import parse_query, scalar
from connectors.openai.emulator.wire import Request, Response, error_response, json_response


@dataclass(frozen=True)
class Controls:
    """What the test-only endpoints read and change."""

    clock: Clock
    log: RequestLog
    faults: Faults
    reset: Callable[[], None]  # back to the emulator's initial clock, faults and keys


def handle(controls: Controls, request: Request) -> Response:
    try:
        return json_response(200, _dispatch(controls, request))
    except ApiError as error:
        return error_response(error)
    except (TypeError, ValueError) as error:
        return error_response(invalid("body", str(error)))


def _dispatch(controls: Controls, request: Request) -> dict:
    action = (request.method, request.path)
    if action == ("GET", "/_emulator/requests"):
        return controls.log.as_json()
    if action == ("POST", "/_emulator/reset"):
        controls.reset()
        return {"now": controls.clock.now()}
    if action == ("GET", "/_emulator/clock"):
        return {"now": controls.clock.now()}
    if action == ("POST", "/_emulator/clock"):
        return _clock(controls.clock, request)
    if action == ("POST", "/_emulator/faults"):
        controls.faults.configure(_fault_config(_body(request)))
        return controls.faults.config.as_dict()
    if action == ("GET", "/_emulator/faults"):
        return controls.faults.config.as_dict()
    raise not_found(f"Invalid URL ({request.method} {request.path})")


def _body(request: Request) -> dict:
    found = json.loads(request.body or b"{}")
    if not isinstance(found, dict):
        raise ValueError("expected a JSON object")
    return found


def _clock(clock: Clock, request: Request) -> dict:
    """`{"now": <Unix seconds | ISO 8601 | null>}` or `{"advance": seconds}` (or as query)."""
    body = _body(request)
    query = parse_query(request.query)
    if "advance" in body or scalar(query, "advance"):
        clock.advance(int(body.get("advance") or scalar(query, "advance")))
    elif "now" in body:
        clock.set(body["now"])
    elif scalar(query, "now") is not None:
        clock.set(scalar(query, "now") or None)
    else:
        raise invalid("now", "Give `now` (Unix seconds, ISO 8601 or null) or `advance`.")
    return {"now": clock.now()}


def _fault_config(body: dict) -> FaultConfig:
    fail_nth = {int(n): kind for n, kind in (body.pop("fail_nth", None) or {}).items()}
    return FaultConfig(**body, fail_nth=fail_nth)
