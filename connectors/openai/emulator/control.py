"""Test-only endpoints under /_emulator/: the request log, reset, clock and faults."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from connectors.openai.emulator.errors import ApiError, invalid, not_found
from connectors.openai.emulator.faults import FaultConfig
from connectors.openai.emulator.params import parse_query, scalar
from connectors.openai.emulator.wire import Request, Response, error_response, json_response

if TYPE_CHECKING:
    from connectors.openai.emulator.emulator import Emulator


def handle(emulator: Emulator, request: Request) -> Response:
    try:
        return json_response(200, _dispatch(emulator, request))
    except ApiError as error:
        return error_response(error)
    except (TypeError, ValueError) as error:
        return error_response(invalid("body", str(error)))


def _dispatch(emulator: Emulator, request: Request) -> dict:
    action = (request.method, request.path)
    if action == ("GET", "/_emulator/requests"):
        return emulator.log.as_json()
    if action == ("POST", "/_emulator/reset"):
        emulator.reset()
        return {"now": emulator.now()}
    if action == ("GET", "/_emulator/clock"):
        return {"now": emulator.now()}
    if action == ("POST", "/_emulator/clock"):
        return _clock(emulator, request)
    if action == ("POST", "/_emulator/faults"):
        emulator.faults.configure(_fault_config(_body(request)))
        return emulator.faults.config.as_dict()
    if action == ("GET", "/_emulator/faults"):
        return emulator.faults.config.as_dict()
    raise not_found(f"Invalid URL ({request.method} {request.path})")


def _body(request: Request) -> dict:
    found = json.loads(request.body or b"{}")
    if not isinstance(found, dict):
        raise ValueError("expected a JSON object")
    return found


def _clock(emulator: Emulator, request: Request) -> dict:
    """`{"now": <Unix seconds | ISO 8601 | null>}` or `{"advance": seconds}` (or as query)."""
    body = _body(request)
    query = parse_query(request.query)
    if "advance" in body or scalar(query, "advance"):
        emulator.advance(int(body.get("advance") or scalar(query, "advance")))
    elif "now" in body:
        emulator.set_now(body["now"])
    elif scalar(query, "now") is not None:
        emulator.set_now(scalar(query, "now") or None)
    else:
        raise invalid("now", "Give `now` (Unix seconds, ISO 8601 or null) or `advance`.")
    return {"now": emulator.now()}


def _fault_config(body: dict) -> FaultConfig:
    fail_nth = {int(n): kind for n, kind in (body.pop("fail_nth", None) or {}).items()}
    return FaultConfig(**body, fail_nth=fail_nth)
