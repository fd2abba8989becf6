"""The Data API's HTTP interface: `GET /v1/resultDatabase/<table>/paged`.

Authenticated by a Data API key only (`ApiKey: <key>` or `Authorization: Bearer <key>`),
never by a session cookie: the views ignore who is logged in. Read-only GET; anything
else is 405. Every request is logged with its key's name (never the key).
"""

from __future__ import annotations

import logging
import math
import time
from datetime import date
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_not_required
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt

from connectors.dataapi import answers, keys, limits, openapi, reads
from connectors.dataapi.filters import FilterError, parse
from connectors.dataapi.tables import tables
from connectors.explore import focus
from connectors.models import Connector, DataApiKey

log = logging.getLogger("connectors.dataapi")

PARAMETERS = {"page", "page_size", "filter", "format", "connector", "cursor"}
MAX_PAGE = reads.MAX_PAGE


class BadRequestError(ValueError):
    """A parameter that cannot be read: 400 with this message."""


def _presented(request: HttpRequest) -> str:
    key = request.headers.get("ApiKey", "")
    if key:
        return key
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else ""


def _authenticate(request: HttpRequest) -> tuple[DataApiKey | None, HttpResponse | None]:
    presented = _presented(request)
    if not presented:
        message = "Send a Data API key in the ApiKey header (or Authorization: Bearer <key>)."
        return None, answers.error(401, message, WWW_Authenticate='Bearer realm="Data API"')
    key, why = keys.key_authenticate(presented)
    if key is None:
        return None, answers.error(401, why, WWW_Authenticate='Bearer realm="Data API"')
    return key, None


def _int(params, name: str, default: int, low: int, high: int | None = None) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequestError(f"{name} must be a whole number, not “{text[:30]}”.") from None
    if value < low or (high is not None and value > high):
        limit = f"from {low:,} to {high:,}" if high is not None else f"at least {low:,}"
        raise BadRequestError(f"{name} must be {limit}; it was {value:,}.")
    return value


def _format(request: HttpRequest) -> str:
    wanted = request.GET.get("format")
    if wanted:
        if wanted not in ("json", "csv"):
            raise BadRequestError(f"format must be json or csv, not “{wanted[:20]}”.")
        return wanted
    accept = request.headers.get("Accept", "")
    return "csv" if "text/csv" in accept and "application/json" not in accept else "json"


def _parse(request: HttpRequest, table, allowed: set[int] | None) -> reads.Request:
    params = request.GET
    unknown = sorted(set(params) - PARAMETERS)
    if unknown:
        raise BadRequestError(
            f"Unknown parameter {', '.join(unknown)}; this endpoint takes "
            f"{', '.join(sorted(PARAMETERS))}."
        )
    where = parse(params["filter"], table) if params.get("filter") else reads.Q()
    ask = reads.Request(table, where, allowed)
    ask.page_size = _int(params, "page_size", reads.DEFAULT_PAGE_SIZE, 1, reads.MAX_PAGE_SIZE)
    ask.page = _int(params, "page", 1, 1, MAX_PAGE)
    if params.get("cursor"):
        if "page" in params:
            raise BadRequestError("Give page or cursor, not both.")
        cursor = reads.decode_cursor(params["cursor"])
        if cursor is None:
            raise BadRequestError("This cursor was not written by this API; start again.")
        ask.after, ask.page = cursor
    if params.get("connector"):
        ask.connector = _int(params, "connector", 0, 1, 2**63 - 1)
    return ask


def _next_url(request: HttpRequest, ask: reads.Request, page: reads.Page) -> str | None:
    if not page.more:
        return None
    params = {k: v for k, v in request.GET.items() if k not in ("page", "cursor")}
    params["cursor"] = reads.encode_cursor(page.last_key, ask.page + 1)
    return request.build_absolute_uri(f"{request.path}?{urlencode(params)}")


def _only_get(request: HttpRequest) -> HttpResponse | None:
    if request.method in ("GET", "HEAD"):
        return None
    message = "The Data API is read-only: use GET."
    return answers.error(405, message, Allow="GET, HEAD")


@csrf_exempt  # read-only, key-authenticated, no cookie: POST and the like get 405
@login_not_required
def paged(request: HttpRequest, table: str) -> HttpResponse:
    started = time.perf_counter()
    key, response, rows = None, None, 0
    try:
        response = _only_get(request)
        if response is None:
            key, response = _authenticate(request)
        if response is None:
            response, rows = _paged(request, key, table)
    finally:
        took = _log(request, key, response, rows, started)
    response["Server-Timing"] = f"app;dur={took:.1f}"
    return _private(response)


def _private(response: HttpResponse) -> HttpResponse:
    """An answer for one key only: no cache keeps it, none serves it to another key."""
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ("ApiKey", "Authorization"))
    return response


def _paged(request: HttpRequest, key: DataApiKey, name: str) -> tuple[HttpResponse, int]:
    limited = _over_limit(key)
    if limited is not None:
        return limited, 0
    table = tables().get(name)
    if table is None:
        return answers.error(404, f"No table named “{name[:60]}”: see /v1/openapi.json."), 0
    allowed = keys.allowed_connectors(key)
    try:
        ask = _parse(request, table, allowed)
        shape = _format(request)
    except (BadRequestError, FilterError) as error:
        return answers.error(400, str(error)), 0
    if ask.connector is not None and not _visible(ask.connector, allowed):
        return answers.error(404, f"No connector {ask.connector} for this key."), 0
    try:
        page = reads.read(ask)
    except OperationalError as error:
        if "statement timeout" not in str(error):
            raise
        message = (
            "The query took too long; filter on startTime or connectorId, or ask smaller pages."
        )
        return answers.error(503, message), 0
    next_url = _next_url(request, ask, page)
    if shape == "csv":
        types = [c.type for c in table.columns]
        return answers.as_csv(page.columns, types, page.rows, next_url), len(page.rows)
    return answers.as_json(page.columns, page.rows, ask.page, ask.page_size, next_url), len(
        page.rows
    )


def _over_limit(key: DataApiKey) -> HttpResponse | None:
    """429 when the key is over its requests a minute (this request is counted)."""
    wait = limits.wait_seconds(key.prefix)
    if wait <= 0:
        return None
    seconds = max(1, math.ceil(wait))
    message = f"Over {limits.per_minute()} requests a minute; retry in {seconds} s."
    return answers.error(429, message, Retry_After=str(seconds))


def _visible(connector_id: int, allowed: set[int] | None) -> bool:
    if allowed is not None and connector_id not in allowed:
        return False
    return Connector.objects.filter(pk=connector_id).exists()


def _log(request, key, response, rows: int, started: float) -> float:
    """One line per request, naming the key (never the key itself); returns the ms taken."""
    status = response.status_code if response is not None else 500
    who = f'key "{key.name}" (#{key.pk})' if key is not None else "no valid key"
    took = (time.perf_counter() - started) * 1000
    log.info(
        "Data API %s %s by %s: %s, %d rows in %.0f ms",
        request.method,
        request.get_full_path()[:300],
        who,
        status,
        rows,
        took,
    )
    return took


@csrf_exempt
@login_not_required
def openapi_json(request: HttpRequest) -> HttpResponse:
    """The API's description: public (it holds no data), generated from the tables."""
    refused = _only_get(request)
    if refused is not None:
        return refused
    return HttpResponse(openapi.document_json(), content_type="application/json")


FOCUS_PARAMETERS = {"start", "end", "connector"}


@csrf_exempt
@login_not_required
def focus_costs(request: HttpRequest) -> HttpResponse:
    """`GET /v1/focus/costs`: the costs of the key's connectors as FOCUS 1.2 CSV, each
    UTC day from one task (`explore.focus`); `start`/`end` are UTC days [start, end)."""
    started = time.perf_counter()
    key, response = None, None
    try:
        response = _only_get(request)
        if response is None:
            key, response = _authenticate(request)
        if response is None:
            response = _focus(request, key)
    finally:
        _log(request, key, response, 0, started)
    return _private(response)


def _focus(request: HttpRequest, key: DataApiKey) -> HttpResponse:
    limited = _over_limit(key)
    if limited is not None:
        return limited
    params, allowed = request.GET, keys.allowed_connectors(key)
    try:
        unknown = sorted(set(params) - FOCUS_PARAMETERS)
        if unknown:
            raise BadRequestError(
                f"Unknown parameter {', '.join(unknown)}; this endpoint takes connector, "
                "end and start."
            )
        start, end = _day(params, "start"), _day(params, "end")
        if start and end and end <= start:
            raise BadRequestError("end must be after start (end is the first day left out).")
        wanted = _int(params, "connector", 0, 1, 2**63 - 1) if params.get("connector") else None
    except BadRequestError as error:
        return answers.error(400, str(error))
    if wanted is not None and not _visible(wanted, allowed):
        return answers.error(404, f"No connector {wanted} for this key.")
    found = Connector.objects.order_by("pk")
    if wanted is not None:
        found = found.filter(pk=wanted)
    elif allowed is not None:
        found = found.filter(pk__in=sorted(allowed))
    lines = focus.connectors_csv(list(found), start, end)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="costs-focus.csv"'
    return response


def _day(params, name: str) -> date | None:
    text = params.get(name) or ""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        message = f"{name} must be a UTC day (YYYY-MM-DD), not “{text[:30]}”."
        raise BadRequestError(message) from None
