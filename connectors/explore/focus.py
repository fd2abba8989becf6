"""The costs table as FOCUS 1.2 (the FinOps Open Cost and Usage Specification): one
charge per collected costs row, in the columns FinOps tools read.

`COLUMNS` is the whole mapping: each FOCUS column, what FOCUS says of it (feature
level, type, whether it may be null) and where its value comes from. The CSV writer
and the README's table are both made from it.

Which rows: the planner's rule, as on the costs table page and its Export CSV: each UTC
day from one task only, so two tasks collecting the same days never count a day twice.
Among the tasks able to answer a day, FOCUS asks first for the task that collected it
in the most detail it can use (by line item and project: a SKU and a sub account per
charge), and only then for the page's own choice (`answer`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db.models import QuerySet

from connectors.explore import datatables, planner
from connectors.explore.export import csv_text, inert
from connectors.explore.names import names_of
from connectors.explore.table_rows import plain
from connectors.models import Connector
from connectors.setup.fields import EARLIEST_TIME

CHUNK = 2000  # rows read (and written as one piece) at a time
PROVIDER = "OpenAI"
SERVICE = "OpenAI API"
TAG_PREFIX = "openai/"
# OpenAI's quantity units in FOCUS's unit format; any other unit is written as OpenAI
# writes it.
UNITS = {
    "tokens": "Tokens",
    "characters": "Characters",
    "images": "Images",
    "duration_seconds": "Seconds",
    "seconds": "Seconds",
    "bytes": "B",
    "sessions": "Sessions",
    "calls": "Calls",
    "requests": "Requests",
}


@dataclass(frozen=True)
class Charge:
    """One costs row, with what FOCUS needs around it."""

    start: datetime
    end: datetime
    amount: Decimal | None
    currency: str | None
    quantity: Decimal | None
    unit: str | None
    project_id: str | None
    line_item: str | None
    api_key_id: str | None
    user_id: str | None
    api_source: str | None
    task_id: int
    provisional: bool
    connector: Connector
    project: str | None  # the directory's names, where it lists the id
    api_key: str | None


@dataclass(frozen=True)
class Column:
    name: str  # FOCUS's column id
    level: str  # FOCUS's feature level: Mandatory, Conditional, Recommended; or Custom
    kind: str  # FOCUS's data type: Decimal, String, Date/Time, JSON
    nullable: bool  # FOCUS allows nulls in it
    source: str  # where the value comes from, in words (the README's table)
    value: Callable[[Charge], Any]


@lru_cache(maxsize=4096)  # a day's rows share their times
def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=4096)
def billing_period(moment: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar month holding `moment` (the costs do not say which invoice a
    charge is on)."""
    first = moment.astimezone(UTC).date().replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return planner.midnight(first), planner.midnight(following)


def _billed(c: Charge) -> Decimal:
    return c.amount if c.amount is not None else Decimal(0)


def _unit(c: Charge) -> str | None:
    if c.quantity is None or not c.unit:
        return None
    return UNITS.get(c.unit, c.unit)


def _quantity(c: Charge) -> Decimal | None:
    return c.quantity if _unit(c) else None


def _description(c: Charge) -> str:
    return c.line_item or "OpenAI API usage, all line items"


def _tags(c: Charge) -> dict | None:
    found = {"user_id": c.user_id, "api_source": c.api_source}
    tags = {TAG_PREFIX + key: value for key, value in found.items() if value}
    return tags or None


M, C, R, X = "Mandatory", "Conditional", "Recommended", "Custom"
SAME = "The row's `amount.value`: "
COLUMNS: tuple[Column, ...] = (
    Column("BilledCost", M, "Decimal", False,
           "The row's `amount.value`, exact: what OpenAI charges, its discounts applied",
           _billed),
    Column("EffectiveCost", M, "Decimal", False,
           SAME + "OpenAI reports no prepaid purchases to amortise", _billed),
    Column("ListCost", M, "Decimal", False,
           SAME + "OpenAI's costs give no list prices, so no savings can be read from it",
           _billed),
    Column("ContractedCost", M, "Decimal", False,
           SAME + "OpenAI's costs give no contracted prices", _billed),
    Column("BillingCurrency", M, "String", False,
           "The row's `amount.currency` in capitals (ISO 4217: `USD`); `USD` if empty",
           lambda c: (c.currency or "usd").upper()),
    Column("ChargePeriodStart", M, "Date/Time", False,
           "The row's bucket start (a UTC midnight)", lambda c: c.start),
    Column("ChargePeriodEnd", M, "Date/Time", False,
           "The row's bucket end (the next UTC midnight)", lambda c: c.end),
    Column("BillingPeriodStart", M, "Date/Time", False,
           "The first UTC midnight of the charge's calendar month",
           lambda c: billing_period(c.start)[0]),
    Column("BillingPeriodEnd", M, "Date/Time", False,
           "The first UTC midnight of the next month", lambda c: billing_period(c.start)[1]),
    Column("ChargeCategory", M, "String", False,
           "`Usage`: OpenAI's costs are usage charges (no purchases, taxes or credits)",
           lambda c: "Usage"),
    Column("ChargeClass", M, "String", True,
           "Empty (null): no row corrects an invoiced period", lambda c: None),
    Column("ChargeDescription", M, "String", True,
           "The row's line item; without one, “OpenAI API usage, all line items”",
           _description),
    Column("ChargeFrequency", R, "String", False, "`Usage-Based`", lambda c: "Usage-Based"),
    Column("ServiceName", M, "String", False, f"`{SERVICE}`", lambda c: SERVICE),
    Column("ServiceCategory", M, "String", False, "`AI and Machine Learning`",
           lambda c: "AI and Machine Learning"),
    Column("ServiceSubcategory", R, "String", False, "`Generative AI`",
           lambda c: "Generative AI"),
    Column("ProviderName", M, "String", False, f"`{PROVIDER}`", lambda c: PROVIDER),
    Column("PublisherName", M, "String", False, f"`{PROVIDER}`", lambda c: PROVIDER),
    Column("InvoiceIssuerName", M, "String", False, f"`{PROVIDER}`", lambda c: PROVIDER),
    Column("BillingAccountId", M, "String", False,
           "`connector-<id>`: the connector, which is one OpenAI organization",
           lambda c: f"connector-{c.connector.pk}"),
    Column("BillingAccountName", M, "String", True, "The connector's name",
           lambda c: c.connector.name),
    Column("SubAccountId", C, "String", True,
           "The row's `project_id` (null when the task does not group by project)",
           lambda c: c.project_id or None),
    Column("SubAccountName", C, "String", True,
           "The project's name from the directory (null when not listed)",
           lambda c: c.project if c.project_id else None),
    Column("ResourceId", C, "String", True,
           "The row's `api_key_id` (null when the task does not group by API key)",
           lambda c: c.api_key_id or None),
    Column("ResourceName", C, "String", True,
           "The API key's name from the directory (null when not listed)",
           lambda c: c.api_key if c.api_key_id else None),
    Column("ResourceType", C, "String", True, "`API key` when there is a ResourceId",
           lambda c: "API key" if c.api_key_id else None),
    Column("SkuId", C, "String", True,
           "The row's `line_item` (null when the task does not group by line item)",
           lambda c: c.line_item or None),
    Column("PricingQuantity", M, "Decimal", True,
           "The row's `quantity` (OpenAI gives it by line item only; else null)",
           _quantity),
    Column("PricingUnit", M, "String", True,
           "The row's `quantity_unit` in FOCUS's unit format (`tokens` → `Tokens`, "
           "`duration_seconds` → `Seconds`, `bytes` → `B`; another as OpenAI writes it)",
           _unit),
    Column("ConsumedQuantity", C, "Decimal", True, "As PricingQuantity", _quantity),
    Column("ConsumedUnit", C, "String", True, "As PricingUnit", _unit),
    Column("Tags", C, "JSON", True,
           "`openai/user_id` and `openai/api_source` of the row where present, else null",
           _tags),
    Column("x_Provisional", X, "String", False,
           "`true` while OpenAI may still add to the day's costs, else `false`",
           lambda c: "true" if c.provisional else "false"),
    Column("x_TaskId", X, "String", False, "The Data Hub task whose row this is",
           lambda c: str(c.task_id)),
)  # fmt: skip
HEADER = [c.name for c in COLUMNS]


# --- which rows ---------------------------------------------------------------------

# The detail FOCUS asks of a day first, most first: columns the answering task must
# group by (on top of what the page's filters involve).
DETAIL = (
    frozenset({"projectId", "lineItem", "apiKeyId", "userId", "apiSource"}),
    frozenset({"projectId", "lineItem", "apiKeyId"}),
    frozenset({"projectId", "lineItem"}),
    frozenset({"lineItem"}),
    frozenset({"projectId"}),
)


def answer(connector: Connector, query: datatables.TableQuery) -> planner.Answer:
    """Per UTC day of the query, the one task whose rows answer it: among the tasks the
    planner would let answer the page, the one with the most detail (`DETAIL`, each
    step ranked by the planner's own rules). Days answered only in part (today) are
    left to the page's own answer, which also says what is missing."""
    base = datatables.question(connector, query)
    found = planner.datasets(connector, query.stream)
    page = planner.answer(base, found)
    left = page.days
    parts: list[planner.Part] = []
    for extra in DETAIL:
        detailed = planner.answer(replace(base, involved=base.involved | extra), found)
        whole = detailed.days - detailed.partial_days
        parts += _clipped(detailed.parts, whole & left)
        left -= whole
    parts += _clipped(page.parts, left)
    partial = [span for span in page.partial if span[0].date() in left]
    parts.sort(key=lambda p: p.start)
    return planner.Answer(base, parts, page.missing, partial, page.grain_problem,
                          page.suggestion)  # fmt: skip


def _clipped(parts: list[planner.Part], days: set[date]) -> list[planner.Part]:
    """The parts cut down to `days`."""
    found = []
    for part in parts:
        kept = planner.days_in(part.start, part.end) & days
        found += [planner.Part(part.dataset, s, e) for s, e in planner.ranges(kept)]
    return found


def rows(connector: Connector, query: datatables.TableQuery) -> QuerySet:
    """The costs rows of the FOCUS export: the page's filters, each day from `answer`."""
    query.answers[None] = answer(connector, query)  # what `filtered` reads its days from
    return datatables.filtered(connector, query)


# --- the CSV ------------------------------------------------------------------------

FIELDS = (
    "start_time", "end_time", "amountValue", "amountCurrency", "quantity", "quantityUnit",
    "projectId", "lineItem", "apiKeyId", "userId", "apiSource", "task_id", "provisional",
)  # fmt: skip


def csv_lines(connector: Connector, query: datatables.TableQuery) -> Iterator[str]:
    """The header, then one line per charge, oldest first: a chunk of rows at a time.
    The days' answer and the names are read before the response starts; only the rows
    are read as it is sent."""
    return itertools.chain([header()], charges_csv(connector, rows(connector, query)))


def header() -> str:
    return csv_text([HEADER])


def charges_csv(connector: Connector, found: QuerySet) -> Iterator[str]:
    """The CSV lines of `found` (costs rows of one connector), CHUNK rows at a time; the
    names read now, the rows when the first line is asked for."""
    labels = _labels(connector)
    ordered = found.order_by("start_time", "id").values_list(*FIELDS)
    return _charges(connector, ordered, labels)


def _charges(connector: Connector, ordered: QuerySet, labels: dict) -> Iterator[str]:
    chunk: list[list[str]] = []
    for row in ordered.iterator(chunk_size=CHUNK):
        chunk.append(_cells(_charge(connector, row, labels)))
        if len(chunk) == CHUNK:
            yield csv_text(chunk)
            chunk = []
    if chunk:
        yield csv_text(chunk)


def _labels(connector: Connector) -> dict[str, dict[str, str]]:
    """{column: {id: name}} of the connector's projects and API keys, read once."""
    found = names_of(connector, {"projectId": None, "apiKeyId": None})
    return {c: {pk: name.text for pk, name in found[c].items()} for c in found}


def _charge(connector: Connector, row: tuple, labels: dict) -> Charge:
    start, end, amount, currency, quantity, unit, project, item, key, user, source = row[:11]
    return Charge(
        start, end, amount, currency, quantity, unit, project, item, key, user, source,
        row[11], row[12], connector,
        labels["projectId"].get(project or ""), labels["apiKeyId"].get(key or ""),
    )  # fmt: skip


def _cells(charge: Charge) -> list[str]:
    return [_cell(column.kind, column.value(charge)) for column in COLUMNS]


def _cell(kind: str, value: Any) -> str:
    """A value as FOCUS writes it: null as an empty field, decimals exact and without
    exponent, times as `YYYY-MM-DDTHH:mm:ssZ`, JSON compact; text a spreadsheet would
    read as a formula gets a single quote first."""
    if value is None:
        return ""
    if kind == "Decimal":
        return plain(value)
    if kind == "Date/Time":
        return _iso(value)
    if kind == "JSON":
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return inert(str(value))


# --- the README's table -------------------------------------------------------------


def markdown_table() -> str:
    """The mapping as the README shows it."""
    lines = ["| FOCUS column | Level | Type | Null allowed | Value |", "|---|---|---|---|---|"]
    for c in COLUMNS:
        allowed = "yes" if c.nullable else "no"
        lines.append(f"| {c.name} | {c.level} | {c.kind} | {allowed} | {c.source} |")
    return "\n".join(lines) + "\n"


def connectors_csv(
    connectors: list[Connector], start: date | None, end: date | None
) -> Iterator[str]:
    """The header, then the FOCUS charges of each connector's costs over the UTC days
    [start, end) (open ends: as far as collected), each day from one task. Every
    connector's days and names are read before the first line; its rows as it is sent."""
    if start is not None:  # no task collects before then: no day to plan
        start = max(start, EARLIEST_TIME.date())
    if start is not None and end is not None and end <= start:
        return iter([header()])
    stream = datatables.stream_for_table("costs")
    parts = []
    for connector in connectors:
        query = datatables.TableQuery(
            stream,
            preset="custom",
            start=planner.midnight(start) if start else None,
            end=planner.midnight(end) if end else None,
        )
        parts.append(charges_csv(connector, rows(connector, query)))
    return itertools.chain([header()], *parts)
