"""The `filter` parameter: the commercial product's JSON conditions, as a safe query.

Grammar (JSON):
    condition  = [column, operator, value]
    group      = [expression, "and"|"or", expression, ...]   (one of and/or per list)
    expression = condition | group
operators: = <> != > >= < <= contains startswith; a `null` value with = tests IS NULL,
with <> or != IS NOT NULL. Columns are checked against the table's own, each value is
converted to its column's type and passed to the database as a parameter: a filter
can only ever select rows of the table. Anything else is a FilterError in words.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q

from connectors.dataapi.tables import Column, Table

OPERATORS = ("=", "<>", "!=", ">", ">=", "<", "<=", "contains", "startswith")
LINKS = ("and", "or")
MAX_LENGTH = 10_000  # characters of the parameter
MAX_CONDITIONS = 100
MAX_DEPTH = 10
_LOOKUPS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


class FilterError(ValueError):
    """A filter that cannot be read; its message says what is wrong, in words."""


def parse(text: str, table: Table) -> Q:
    """The rows `text` selects, as a Q of the table's model."""
    if len(text) > MAX_LENGTH:
        raise FilterError(f"The filter is longer than {MAX_LENGTH:,} characters.")
    try:  # numbers with a fraction read exactly, as a decimal column holds them
        tree = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise FilterError(
            f"The filter is not valid JSON ({error.msg} at character {error.pos + 1}). "
            'Write a condition such as ["model","=","gpt-4o"].'
        ) from None
    except RecursionError:  # thousands of nested lists: deeper than Python reads
        raise FilterError(f"The filter nests deeper than {MAX_DEPTH} levels.") from None
    counter = [0]
    return _expression(tree, table, depth=1, counter=counter)


def _expression(node: Any, table: Table, depth: int, counter: list[int]) -> Q:
    if depth > MAX_DEPTH:
        raise FilterError(f"The filter nests deeper than {MAX_DEPTH} levels.")
    if not isinstance(node, list) or not node:
        raise FilterError(
            f"Expected a condition [column, operator, value] or a group "
            f'[condition, "and", condition], found {_show(node)}.'
        )
    if isinstance(node[0], str):
        counter[0] += 1
        if counter[0] > MAX_CONDITIONS:
            raise FilterError(f"The filter has more than {MAX_CONDITIONS} conditions.")
        return _condition(node, table)
    return _group(node, table, depth, counter)


def _group(node: list, table: Table, depth: int, counter: list[int]) -> Q:
    if len(node) % 2 == 0:
        raise FilterError(
            f'A group alternates expressions and "and"/"or": {_show(node)} has '
            f'{len(node)} items, expected an odd number (expression, "and", expression, …).'
        )
    links = node[1::2]
    for link in links:
        if not isinstance(link, str) or link.lower() not in LINKS:
            raise FilterError(f'Expected "and" or "or" between expressions, found {_show(link)}.')
    if len({link.lower() for link in links}) > 1:
        raise FilterError(
            f'{_show(node)} mixes "and" and "or" in one list: nest them, as in '
            '[cond, "or", [cond, "and", cond]].'
        )
    parts = [_expression(part, table, depth + 1, counter) for part in node[::2]]
    combined = parts[0]
    for part in parts[1:]:
        combined = (combined | part) if links and links[0].lower() == "or" else (combined & part)
    return combined


def _condition(node: list, table: Table) -> Q:
    if len(node) != 3:
        raise FilterError(
            f"A condition is [column, operator, value]; {_show(node)} has {len(node)} items."
        )
    name, operator, value = node
    for part in (name, operator, value):
        if isinstance(part, str) and not unicode(part):
            raise FilterError(
                f"{_show(node)} holds text that is not Unicode (a lone surrogate such as "
                "\\ud800): no column holds it."
            )
    column = table.column(name)
    if column is None:
        raise FilterError(
            f"{table.name} has no column “{name[:60]}”. Its columns: "
            f"{', '.join(c.name for c in table.columns if c.filterable)}."
        )
    if not column.filterable:
        hint = f" Filter by {name[:-4]}Id instead." if name.endswith("Name") else ""
        raise FilterError(f"The column {name} cannot be filtered ({column.type}).{hint}")
    if not isinstance(operator, str) or operator.lower() not in OPERATORS:
        raise FilterError(
            f"Unknown operator {_show(operator)} in {_show(node)}; use one of "
            f"{', '.join(OPERATORS)}."
        )
    return _test(column, operator.lower(), value, node)


def _test(column: Column, operator: str, value: Any, node: list) -> Q:
    field = column.field
    if value is None:
        if operator == "=":
            return Q(**{f"{field}__isnull": True})
        if operator in ("<>", "!="):
            return Q(**{f"{field}__isnull": False})
        raise FilterError(f"null can only be tested with =, <> or != ({_show(node)}).")
    if operator in ("contains", "startswith"):
        if column.type != "str":
            raise FilterError(
                f"{operator} works on text columns; {column.name} is {_kind(column)}."
            )
        text = _typed(column, value, node)
        lookup = "icontains" if operator == "contains" else "istartswith"
        return Q(**{f"{field}__{lookup}": text})
    typed = _typed(column, value, node)
    if operator == "=":
        return Q(**{field: typed})
    if operator in ("<>", "!="):  # rows without a value are "not equal" too
        return ~Q(**{field: typed}) | Q(**{f"{field}__isnull": True})
    return Q(**{f"{field}__{_LOOKUPS[operator]}": typed})


def _typed(column: Column, value: Any, node: list) -> Any:
    """`value` as the column's type, or a FilterError naming the column and the value."""
    try:
        return _CONVERT[column.type](value)
    except (ValueError, TypeError, InvalidOperation, OverflowError):
        raise FilterError(
            f"{_show(value)} is not {_kind(column)}, the type of {column.name} ({_show(node)})."
        ) from None


def unicode(text: str) -> bool:
    """Whether `text` can be written as UTF-8 (a JSON \\ud800 escape alone cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, Decimal):
        if not value.is_finite() or value.adjusted() > 19 or value != value.to_integral_value():
            raise ValueError
        value = int(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        value = int(value)
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise OverflowError
    return number


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TypeError
    number = Decimal(str(value))
    if not number.is_finite() or not -38 <= number.adjusted() <= 38:  # beyond any column
        raise ValueError
    return number


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TypeError
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError
    return number


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError


def _text(value: Any) -> str:
    if not isinstance(value, str) or "\x00" in value:  # Postgres text holds no NUL
        raise TypeError
    return value


def _time(value: Any) -> datetime:
    """An ISO 8601 date or date-time; without a zone, UTC."""
    if not isinstance(value, str):
        raise TypeError
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if len(text) == 10:
        moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
    else:
        moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_CONVERT = {
    "int": _int,
    "decimal": _decimal,
    "float": _float,
    "bool": _bool,
    "str": _text,
    "time": _time,
}


def _kind(column: Column) -> str:
    return {
        "int": "an integer",
        "decimal": "a number",
        "float": "a number",
        "bool": "true or false",
        "str": "text (a JSON string)",
        "time": 'a date or date-time (ISO 8601, e.g. "2026-01-31" or "2026-01-31T12:00:00Z")',
    }.get(column.type, column.type)


def _show(value: Any) -> str:
    """`value` as the filter wrote it, cut short; text that is not Unicode as \\u escapes."""
    text = _written(value, 0).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 80 else text[:77] + "…"


def _written(value: Any, depth: int) -> str:
    if isinstance(value, Decimal):  # a JSON number with a fraction, as it was written
        return str(value)
    if isinstance(value, list | dict) and depth > MAX_DEPTH:
        return "…"
    if isinstance(value, list):
        return "[" + ", ".join(_written(item, depth + 1) for item in value[:20]) + "]"
    if isinstance(value, dict):
        items = [f"{_written(k, depth)}: {_written(v, depth + 1)}" for k, v in value.items()]
        return "{" + ", ".join(items[:20]) + "}"
    return json.dumps(value, ensure_ascii=False)
