"""Costs: usage priced per line item, summed per UTC day.

The finest grain is a cell (day, project, API key, API source, line item); a key's
owner gives the cell its user. Its quantity is the day's
usage (up to now for today); its amount is computed once, in integer nano-dollars, with
the project's negotiated discount and batch/flex prices, then floored. Every grouping
sums the same cells, so line items always add up to the ungrouped total, and no amount
equals usage times list price. Amounts are reported as float dollars (exact multiples
of 1e-9: sum them as `Decimal(str(value))`).
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.openai.emulator.catalog import DAY, MINUTE
from connectors.openai.emulator.engine import PPM, aggregate
from connectors.openai.emulator.params import BucketQuery, bucket_edges
from connectors.openai.emulator.usage import OrgData, matches, sort_key
from connectors.openai.streams import USAGE_STREAMS, UsageStream

NANO = 1_000_000_000

# Nano-dollars per token: input, cached input, output, audio input, audio output.
_TOKEN_PRICES = {
    "gpt-4o-2024-08-06": (2500, 1250, 10000, 0, 0),
    "gpt-4o-mini-2024-07-18": (150, 75, 600, 0, 0),
    "gpt-4o-audio-preview-2024-12-17": (2500, 1250, 10000, 40000, 80000),
    "o4-mini-2025-04-16": (1100, 275, 4400, 0, 0),
    "o3-2025-04-16": (2000, 500, 8000, 0, 0),
    "gpt-4.1-2025-04-14": (2000, 500, 8000, 0, 0),
    "gpt-4.1-mini-2025-04-14": (400, 100, 1600, 0, 0),
    "gpt-5-2025-08-07": (1250, 125, 10000, 0, 0),
    "gpt-5-mini-2025-08-07": (250, 25, 2000, 0, 0),
    "gpt-realtime-2025-08-28": (4000, 400, 16000, 32000, 64000),
}
_DEFAULT_TOKEN_PRICE = (1000, 250, 4000, 20000, 40000)
# Completions leaf -> (line item suffix, index into the token prices, multiplier num/den).
_COMPLETION_LINES = {
    "input_text_tokens": ("input", 0, 1, 1),
    "input_image_tokens": ("input", 0, 1, 1),
    "input_cached_text_tokens": ("cached input", 1, 1, 1),
    "input_cached_image_tokens": ("cached input", 1, 1, 1),
    "input_cache_write_30m_tokens": ("cache write", 0, 5, 4),
    "input_cache_write_12h_tokens": ("cache write 12h", 0, 2, 1),
    "output_text_tokens": ("output", 2, 1, 1),
    "output_image_tokens": ("output", 2, 1, 1),
    "input_audio_tokens": ("audio input", 3, 1, 1),
    "input_cached_audio_tokens": ("cached audio input", 1, 1, 1),
    "output_audio_tokens": ("audio output", 4, 1, 1),
}
_TIER_FACTORS = {"flex": (1, 2), "priority": (7, 4)}
# Other streams: leaf -> (line item template, unit, nano-dollars per unit as num/den).
_UNIT_LINES = {
    ("embeddings", "input_tokens"): ("{model}, input", "tokens", 40, 1),
    ("images", "images"): ("{model} | {size}", "images", 40_000_000, 1),
    ("audio_speeches", "characters"): ("{model}, characters", "characters", 15_000, 1),
    ("audio_transcriptions", "seconds"): ("{model}, transcription", "duration_seconds", 100_000, 1),
    ("vectorstores", "usage_bytes"): ("vector store storage", "bytes", 1, 16_384),
    ("code_interpreter_sessions", "num_sessions"): ("code interpreter", "sessions", 30_000_000, 1),
    ("file_search_calls", "num_requests"): ("file search tool calls", "calls", 2_500_000, 1),
    ("web_search_calls", "num_requests"): ("{model}, web search", "calls", 10_000_000, 1),
}


@dataclass
class Cell:
    quantity: int
    unit: str
    num: int  # nano-dollars per unit = num / den
    den: int


def line_item(stream_type: str, dims: dict, leaf: str) -> tuple[str, str, int, int] | None:
    """(line item, quantity unit, price numerator, price denominator) of one usage leaf."""
    if stream_type in ("completions", "decisions"):
        return _completion_line(dims, leaf)
    found = _UNIT_LINES.get((stream_type, leaf))
    if found is None:
        return None
    template, unit, num, den = found
    return template.format(**{"model": "", "size": "", **dims}), unit, num, den


def _completion_line(dims: dict, leaf: str) -> tuple[str, str, int, int] | None:
    found = _COMPLETION_LINES.get(leaf)
    if found is None:
        return None
    suffix, index, num, den = found
    price = _TOKEN_PRICES.get(dims.get("model"), _DEFAULT_TOKEN_PRICE)[index]
    model, tier = dims.get("model"), dims.get("service_tier")
    if dims.get("batch"):
        return f"{model}, {suffix} (batch)", "tokens", price * num, den * 2
    if tier in _TIER_FACTORS:
        tier_num, tier_den = _TIER_FACTORS[tier]
        return f"{model}, {suffix} ({tier})", "tokens", price * num * tier_num, den * tier_den
    return f"{model}, {suffix}", "tokens", price * num, den


def costs_completeness(now: int, day: int, finality: int) -> int:
    """The share (ppm) of a day's costs reported at `now`; final `finality` after the day."""
    elapsed = now - day * DAY
    if elapsed <= 0:
        return 0
    span = DAY + finality
    if elapsed >= span:
        return PPM
    return 400_000 + 600_000 * elapsed // span


def day_cells(data: OrgData, day: int, now: int) -> dict[tuple, Cell]:
    """The day's cells keyed (project_id, api_key_id, api_source, line_item); today's
    up to now. Usage without a source (embeddings, ...) is `unlabeled`."""
    ended = (day + 1) * DAY <= now
    if ended and day in data.costs_cache:
        return data.costs_cache[day]
    cells: dict[tuple, Cell] = {}
    for stream in USAGE_STREAMS:
        if stream.type != "costs":
            _price_stream(data, stream, day, now if not ended else None, cells)
    if ended:
        if len(data.costs_cache) >= 4096:
            data.costs_cache.clear()
        data.costs_cache[day] = cells
    return cells


def _price_stream(data: OrgData, stream: UsageStream, day: int, now, cells: dict) -> None:
    table = data.stream(stream)
    if now is None:
        vectors = table.day(day)
    else:
        picks = [(i, i) for i in range(len(table.series))]
        sums = aggregate(table, picks, [day * 1440, max(day * 1440, now // MINUTE)], now, 0)[0]
        vectors = [sums.get(i) for i in range(len(table.series))]
    for series, vec in zip(table.series, vectors, strict=True):
        for leaf, quantity in zip(table.recipe.leaves, vec or (), strict=False):
            item = line_item(stream.type, series.dims, leaf) if quantity else None
            if item is None:
                continue
            name, unit, num, den = item
            dims = series.dims
            source = dims.get("api_source") or "unlabeled"
            key = (dims.get("project_id"), dims.get("api_key_id"), source, name)
            cell = cells.get(key)
            if cell is None:
                cells[key] = Cell(quantity, unit, num, den)
            else:
                cell.quantity += quantity


def costs_buckets(
    data: OrgData, query: BucketQuery, end: int, first: int, count: int, now: int, finality: int
) -> list[dict]:
    """Buckets first .. first + count - 1 of a costs query, as of `now`."""
    edges = bucket_edges(query, end, first, count)
    discounts = {p.id: p.discount_pct for p in data.org.projects}
    owners = {k.id: k.user_id for k in data.org.keys}
    buckets = []
    for i in range(len(edges) - 1):
        day = edges[i] // DAY
        share = costs_completeness(now, day, finality)
        cells = day_cells(data, day, now) if share else {}
        groups = _group(cells, query, share, discounts, owners)
        results = [_result(query, key, *groups[key]) for key in sorted(groups, key=sort_key)]
        buckets.append(
            {
                "object": "bucket",
                "start_time": edges[i],
                "end_time": edges[i + 1],
                "results": results,
            }
        )
    return buckets


def _group(cells: dict[tuple, Cell], query: BucketQuery, share, discounts, owners) -> dict:
    groups: dict[tuple, list] = {}
    for (project_id, api_key_id, source, name), cell in cells.items():
        dims = {
            "project_id": project_id,
            "api_key_id": api_key_id,
            "user_id": owners.get(api_key_id),
            "api_source": source,
            "line_item": name,
        }
        quantity = cell.quantity * share // PPM
        if not quantity or not matches(dims, query.filters):
            continue
        off = discounts.get(project_id, 0)
        nano = quantity * cell.num * (100 - off) // (cell.den * 100)
        key = tuple(dims[d] for d in query.group_by)
        found = groups.setdefault(key, [0, 0, set()])
        found[0] += nano
        found[1] += quantity
        found[2].add(cell.unit)
    return groups


def _result(query: BucketQuery, key: tuple, nano: int, quantity: int, units: set) -> dict:
    by_line = "line_item" in query.group_by
    values = {
        "amount.value": nano / NANO,
        "amount.currency": "usd",
        "quantity": quantity if by_line else None,
        "quantity_unit": units.copy().pop() if by_line and len(units) == 1 else None,
    }
    found: dict = {"object": query.stream.result_object}
    for field in query.stream.metrics:
        head, _, tail = field.api.partition(".")
        if tail:
            found.setdefault(head, {})[tail] = values.get(field.api)
        else:
            found[head] = values.get(field.api)
    grouped = dict(zip(query.group_by, key, strict=True))
    for dim in query.stream.group_by:
        found[dim] = grouped.get(dim)
    return found
