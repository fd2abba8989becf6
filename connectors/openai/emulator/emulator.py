"""The emulator: keys, clock, faults and the request log around the API's answers.

`Emulator.handle` is the one entry point; the ASGI app and the httpx transports only
adapt it. Nothing is stored: every answer is computed from the seed, the request and the
clock, so one emulator can serve several organizations (one per key) at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from functools import lru_cache

from connectors.openai.emulator import control, pages, truth
from connectors.openai.emulator.app import asgi_app
from connectors.openai.emulator.clock import Clock
from connectors.openai.emulator.directory import ROUTES, directory_truth
from connectors.openai.emulator.errors import (
    ApiError,
    invalid,
    invalid_key,
    missing_key,
    missing_scope,
    not_found,
)
from connectors.openai.emulator.faults import (
    FaultConfig,
    Faults,
    bad_gateway_body,
    corrupt,
    fault_error,
)
from connectors.openai.emulator.log import RequestLog, RequestRecord
from connectors.openai.emulator.params import Params, check_known, parse_query
from connectors.openai.emulator.transport import EmulatorTransport
from connectors.openai.emulator.usage import OrgData
from connectors.openai.emulator.wire import (
    Request,
    Response,
    error_response,
    json_response,
    to_timestamp,
)
from connectors.openai.streams import USAGE_STREAMS

DEFAULT_SEED = 42
DEMO_ADMIN_KEY = "sk-admin-demo-datahub-readonly-key"
DEMO_NO_USAGE_KEY = "sk-admin-demo-datahub-no-usage-key"
DEMO_PROJECT_KEY = "sk-proj-demo-datahub-project-key"
DEMO_SVCACCT_KEY = "sk-svcacct-demo-datahub-service-key"
USAGE_SCOPE = "api.usage.read"
MANAGEMENT_SCOPE = "api.management.read"
ROLE_SCOPES = {
    "admin": frozenset({USAGE_SCOPE, MANAGEMENT_SCOPE}),
    "admin_no_usage": frozenset({MANAGEMENT_SCOPE}),
    "project": frozenset(),
    "service_account": frozenset(),
}
USAGE_ROUTES = {stream.path: stream for stream in USAGE_STREAMS}


@dataclass(frozen=True)
class KeyGrant:
    role: str  # a key of ROLE_SCOPES
    seed: int = DEFAULT_SEED


def demo_keys(seed: int = DEFAULT_SEED) -> dict[str, KeyGrant]:
    return {
        DEMO_ADMIN_KEY: KeyGrant("admin", seed),
        DEMO_NO_USAGE_KEY: KeyGrant("admin_no_usage", seed),
        DEMO_PROJECT_KEY: KeyGrant("project", seed),
        DEMO_SVCACCT_KEY: KeyGrant("service_account", seed),
    }


@lru_cache(maxsize=8)
def org_data(seed: int) -> OrgData:
    """Shared by every emulator: the data is a pure function of the seed."""
    return OrgData(seed)


class Emulator:
    """An OpenAI Admin API serving deterministic organizations."""

    def __init__(
        self,
        seed: int = DEFAULT_SEED,
        *,
        now: int | str | datetime | None = None,
        usage_finality: int = 15 * 60,
        costs_finality: int = 36 * 3600,
        faults: FaultConfig | None = None,
        keys: dict[str, KeyGrant] | None = None,
    ) -> None:
        self.seed = seed
        self.usage_finality = usage_finality
        self.costs_finality = costs_finality
        self.log = RequestLog()
        self._initial = (now, faults or FaultConfig(), dict(keys or demo_keys(seed)))
        self._lock = threading.Lock()
        self.faults = Faults()
        self.clock = Clock()
        self.controls = control.Controls(self.clock, self.log, self.faults, self.reset)
        self.reset()

    def reset(self) -> None:
        """Back to the constructor's clock, faults and keys, with an empty request log."""
        now, faults, keys = self._initial
        self.clock.set(now)
        self.faults.configure(FaultConfig(**faults.as_dict()))
        self.keys = dict(keys)
        self.log.clear()
        self._number = 0

    # --- clock -----------------------------------------------------------------------

    def now(self) -> int:
        return self.clock.now()

    def set_now(self, moment: int | str | datetime | None) -> None:
        """Fix the clock (Unix seconds, ISO 8601 or datetime); None follows the real clock."""
        self.clock.set(moment)

    def advance(self, seconds: int) -> int:
        return self.clock.advance(seconds)

    @property
    def finality(self) -> pages.Finality:
        return pages.Finality(usage=self.usage_finality, costs=self.costs_finality)

    # --- organizations ---------------------------------------------------------------

    def add_key(self, key: str, *, seed: int | None = None, role: str = "admin") -> None:
        """Accept `key`, serving the organization of `seed` with the scopes of `role`."""
        if role not in ROLE_SCOPES:
            raise ValueError(f"Unknown role {role!r}: expected one of {', '.join(ROLE_SCOPES)}")
        self.keys[key] = KeyGrant(role, self.seed if seed is None else seed)

    def data(self, seed: int | None = None) -> OrgData:
        return org_data(self.seed if seed is None else seed)

    def org(self, seed: int | None = None):
        return self.data(seed).org

    def ground_truth(
        self, stream_type: str, *, now: int | str | None = None, seed: int | None = None, **query
    ) -> list[dict]:
        """Every bucket of a query as the API answers it at `now` (default: the emulator's
        clock) for the organization of `seed` (see `truth.ground_truth`)."""
        moment = self.now() if now is None else to_timestamp(now)
        return truth.ground_truth(self.data(seed), self.finality, stream_type, now=moment, **query)

    def directory_truth(self, now: int | str | None = None, seed: int | None = None) -> dict:
        """The whole directory at `now`: projects, users, keys per project, ..."""
        moment = self.now() if now is None else to_timestamp(now)
        return directory_truth(self.org(seed), moment)

    # --- serving ---------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_emulator/"):
            return control.handle(self.controls, request)
        with self._lock:
            self._number += 1
            number = self._number
        decision = self.faults.decide(number, request.headers)
        params = parse_query(request.query)
        response = self._answer(decision.fault, decision.retry_after, request, params)
        response.delay = decision.delay
        response.headers.append(("date", self._date(request.headers)))
        status = None if response.drop else response.status
        path = request.path.removeprefix("/v1")
        record = RequestRecord(number, request.method, path, params, status, decision.fault)
        self.log.add(record)
        return response

    def _answer(self, fault, retry_after: int, request: Request, params: Params) -> Response:
        if fault == "drop":
            return Response(0, [], b"", drop=True)
        if fault == "502":
            return Response(502, [("content-type", "text/html")], bad_gateway_body())
        error = fault_error(fault, retry_after) if fault else None
        response = error_response(error) if error else self._serve(request, params)
        if fault in ("truncate", "malformed") and response.status == 200:
            response.body = corrupt(fault, response.body)
            response.headers = [("content-type", "application/json")]
            response.headers.append(("content-length", str(len(response.body))))
        return response

    def _serve(self, request: Request, params: Params) -> Response:
        try:
            return json_response(200, self._route(request, params))
        except ApiError as error:
            return error_response(error)

    def _route(self, request: Request, params: Params) -> dict | bytes:
        path = request.path.removeprefix("/v1")
        if request.method != "GET" or not request.path.startswith("/v1/"):
            raise not_found(f"Invalid URL ({request.method} {request.path})")
        grant = self._authenticate(request.headers)
        now = self._request_now(request.headers)
        stream = USAGE_ROUTES.get(path)
        if stream is not None:
            _require(grant, USAGE_SCOPE)
            return pages.page_body(self.data(grant.seed), self.finality, stream, params, now)
        for pattern, handler, known in ROUTES:
            match = pattern.match(path)
            if match:
                _require(grant, MANAGEMENT_SCOPE)
                check_known(params, known)
                return handler(self.org(grant.seed), now, params, **match.groupdict())
        raise not_found(f"Invalid URL ({request.method} {request.path})")

    def _authenticate(self, headers: dict[str, str]) -> KeyGrant:
        scheme, _, key = headers.get("authorization", "").strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise missing_key()
        grant = self.keys.get(key)
        if grant is None:
            raise invalid_key(key)
        return grant

    def _date(self, headers: dict[str, str]) -> str:
        """The Date header, by the emulator's clock: clients learn the server's "now"."""
        try:
            moment = self._request_now(headers)
        except ApiError:
            moment = self.now()
        return formatdate(moment, usegmt=True)

    def _request_now(self, headers: dict[str, str]) -> int:
        override = headers.get("x-emulator-now")
        if not override:
            return self.now()
        try:
            return to_timestamp(override)
        except ValueError:
            raise invalid("X-Emulator-Now", "Invalid X-Emulator-Now header.") from None

    # --- adapters --------------------------------------------------------------------

    def transport(self) -> EmulatorTransport:
        """An `httpx.BaseTransport` answering in process."""
        return EmulatorTransport(self.handle)

    @property
    def app(self):
        """The raw ASGI application (serve it with uvicorn)."""
        return asgi_app(self.handle)


def _require(grant: KeyGrant, scope: str) -> None:
    if scope not in ROLE_SCOPES[grant.role]:
        raise missing_scope(scope)
