"""The query-type registry: every OpenAI Admin API stream the Data Hub knows, as data.

One entry per query type drives the task form, its validation, the request estimate,
the client, persistence and the emulator's routes. Adding an endpoint is one entry here
(plus its table).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

WIDTH_SECONDS = {"1m": 60, "1h": 3600, "1d": 86400}
# Costs grouped by api_key_id: OpenAI refuses any window starting before this day
# (2025-12-06T00:00:00Z), seen on the live API (langwatch/langwatch#7579).
COSTS_API_KEY_SINCE = 1764979200
USAGE_PAGE_LIMITS = {"1d": (7, 31), "1h": (24, 168), "1m": (60, 1440)}  # width: (default, max)
COSTS_PAGE_LIMITS = {"1d": (7, 180)}
DIRECTORY_PAGE_LIMIT = 100


@dataclass(frozen=True)
class Param:
    """A task parameter. Its technical name is `<type>-<suffix>`.

    kind: "time" (date or date-time), "width" (bucket width), "groupby", "ids" (a list of
    ids with `id_prefix`), "names" (a list of free names such as models), "emails",
    "enum" (a multi-select of `choices`), "tristate" (true / false / both), "bool".
    """

    suffix: str
    label: str
    kind: str
    api: str | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    id_prefix: str = ""
    help: str = ""
    narrows: str = ""  # the dimension (DIMENSIONS key) a filter keeps values of
    whole_lines: bool = False  # each line is one value (names holding commas and spaces)


@dataclass(frozen=True)
class Field:
    """A field of an API result, the camelCase column it lands in, and how every reader
    of the collected tables shows it: the one place a column's facts live.

    The table page, its filters, the charts, the directory's names, Export CSV and the
    Data API all read them here."""

    # Dotted path into the result: "amount.value". A "*" stands for the member named by
    # the object's "type": "owner.*.id" is owner.user.id for {"type": "user", "user": ...}.
    api: str
    column: str
    type: str  # "int" | "decimal" | "float" | "str" | "bool" | "json" (directory only)
    required: bool = False
    label: str = ""  # in words, lower case, as charts name it: "project", "cost (USD)"
    unit: str = ""  # a metric's unit, under its table header: "tokens", "USD", "bytes"
    # A dimension's filter on its table page: its URL parameter ("" for none), and the
    # hint in its empty text input. Its label is the field's label in capitals.
    filter: str = ""
    placeholder: str = ""
    directory: str = ""  # the directory stream naming its ids: "projects", "users", "api_keys"


def _f(api: str, type_: str = "int", required: bool = False, column: str = "") -> Field:
    """A directory field: a column of the directory tables."""
    column = column or _camel(api)
    return Field(api=api, column=column, type=type_, required=required)


def _dimension(
    api: str,
    label: str,
    *,
    type_: str = "str",
    filter: str = "",
    placeholder: str = "",
    directory: str = "",
) -> Field:
    """A result field that is a dimension (null unless grouped)."""
    return Field(
        api=api,
        column=_camel(api),
        type=type_,
        label=label,
        filter=filter,
        placeholder=placeholder,
        directory=directory,
    )


def _metric(
    api: str, unit: str, *, label: str = "", type_: str = "int", required: bool = False
) -> Field:
    """A result field that is a measure, in `unit`; its label is its name in words
    unless given ("input_cached_tokens": "input cached tokens")."""
    return Field(
        api=api,
        column=_camel(api),
        type=type_,
        required=required,
        label=label or api.replace("_", " "),
        unit=unit,
    )


def _tokens(api: str, required: bool = False) -> Field:
    return _metric(api, "tokens", required=required)


def _camel(name: str) -> str:
    head, *rest = name.replace(".", "_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# The result fields that are dimensions (null unless grouped). A dimension with a
# `filter` has a text input on its table page (batch: a true/false/both choice); one
# that a task parameter `narrows` must have one.
DIMENSIONS: dict[str, Field] = {
    "project_id": _dimension(
        "project_id",
        "project",
        filter="project",
        placeholder="name or proj_…",
        directory="projects",
    ),
    "user_id": _dimension(
        "user_id", "user", filter="user", placeholder="name, email or user-…", directory="users"
    ),
    "api_key_id": _dimension(
        "api_key_id",
        "API key",
        filter="api_key",
        placeholder="name or key_…",
        directory="api_keys",
    ),
    "model": _dimension("model", "model", filter="model"),
    "line_item": _dimension("line_item", "line item", filter="line_item"),
    "batch": _dimension("batch", "batch", type_="bool", filter="batch"),
    "service_tier": _dimension("service_tier", "service tier", filter="service_tier"),
    "size": _dimension("size", "size", filter="size"),
    "source": _dimension("source", "source", filter="source"),
    "vector_store_id": _dimension(
        "vector_store_id", "vector store", filter="vector_store", placeholder="vs_…"
    ),
    "context_level": _dimension("context_level", "context level", filter="context_level"),
    "api_source": _dimension("api_source", "API source"),  # agents_api | unlabeled
}

# Filters, keyed by their query parameter.
PROJECT_IDS = Param(
    "ProjectIds", "PROJECT IDS", "ids", "project_ids", id_prefix="proj_", narrows="project_id"
)
USER_IDS = Param("UserIds", "USER IDS", "ids", "user_ids", id_prefix="user-", narrows="user_id")
API_KEY_IDS = Param(
    "ApiKeyIds", "API KEY IDS", "ids", "api_key_ids", id_prefix="key_", narrows="api_key_id"
)
MODELS = Param("Models", "MODELS", "names", "models", narrows="model")
BATCH = Param(
    "Batch",
    "BATCH",
    "tristate",
    "batch",
    help="true: batch only; false: non-batch only",
    narrows="batch",
)
SOURCES = Param(
    "Sources",
    "SOURCES",
    "enum",
    "sources",
    ("image.generation", "image.edit", "image.variation"),
    narrows="source",
)
SIZES = Param(
    "Sizes",
    "SIZES",
    "enum",
    "sizes",
    ("256x256", "512x512", "1024x1024", "1792x1792", "1024x1792"),
    narrows="size",
)
CONTEXT_LEVELS = Param(
    "ContextLevels",
    "CONTEXT LEVELS",
    "enum",
    "context_levels",
    ("low", "medium", "high"),
    narrows="context_level",
)
VECTOR_STORE_IDS = Param(
    "VectorStoreIds",
    "VECTOR STORE IDS",
    "ids",
    "vector_store_ids",
    id_prefix="vs_",
    narrows="vector_store_id",
)

LINE_ITEMS = Param(
    "LineItems",
    "LINE ITEMS",
    "names",
    "line_items",
    help="Exact line item names, one per line (gpt-4o-2024-08-06, input).",
    narrows="line_item",
    whole_lines=True,
)

START_TIME = Param(
    "StartTime",
    "START TIME",
    "time",
    "start_time",
    required=True,
    help="Inclusive, UTC. A date (2024-01-01) or a date-time (2024-01-01T12:00Z).",
)
END_TIME = Param(
    "EndTime", "END TIME", "time", "end_time", help="Exclusive, UTC. Empty: up to now."
)

COMMON_FILTERS = (PROJECT_IDS, USER_IDS, API_KEY_IDS, MODELS)


@dataclass(frozen=True)
class UsageStream:
    """A bucketed endpoint: one of the usage endpoints, or costs."""

    type: str
    path: str
    table: str
    result_object: str
    group_by: tuple[str, ...]
    filters: tuple[Param, ...]
    metrics: tuple[Field, ...]
    bucket_widths: tuple[str, ...] = ("1m", "1h", "1d")
    page_limits: tuple[tuple[str, tuple[int, int]], ...] = tuple(USAGE_PAGE_LIMITS.items())
    floor_to_day: bool = False  # costs buckets start at UTC midnight whatever start_time is
    # (dimension, Unix seconds): grouping by it is refused for a start_time before then.
    group_by_since: tuple[tuple[str, int], ...] = ()
    kind: str = "usage"

    @property
    def params(self) -> tuple[Param, ...]:
        width = Param("BucketWidth", "BUCKET WIDTH", "width", "bucket_width", self.bucket_widths)
        group_by = Param("GroupBy", "GROUP BY", "groupby", "group_by", self.group_by)
        return (START_TIME, END_TIME, width, group_by, *self.filters)

    @property
    def dimensions(self) -> tuple[Field, ...]:
        return tuple(DIMENSIONS[name] for name in self.group_by)

    def group_by_refused(self, group_by, start: int) -> tuple[str, int] | None:
        """The (dimension, since) OpenAI refuses to group by for a window from `start`."""
        return next(((d, t) for d, t in self.group_by_since if d in group_by and start < t), None)

    @property
    def main_metrics(self) -> tuple[str, ...]:
        """What the stream measures first: its required counts other than requests
        (completions: input and output tokens), or else its first number (costs: the
        amount). Its charts show them, and its table has an index to sort by each."""
        required = tuple(
            f.column for f in self.metrics if f.required and f.column != "numModelRequests"
        )
        if required:
            return required
        return next((f.column,) for f in self.metrics if f.type in ("int", "decimal", "float"))

    def page_limit(self, width: str) -> tuple[int, int]:
        """(default, maximum) buckets per page for a bucket width."""
        return dict(self.page_limits)[width]


@dataclass(frozen=True)
class DirectoryStream:
    """A cursor-paginated list of the organization's directory."""

    type: str
    path: str
    table: str
    item_object: str
    params: tuple[Param, ...]
    fields: tuple[Field, ...]
    per_project: bool = False  # listed once per project: {project_id} in the path
    kind: str = "directory"


def _usage(
    type_: str,
    *,
    group_by: tuple[str, ...],
    filters: tuple[Param, ...],
    metrics: tuple[Field, ...],
    endpoint: str = "",
    result: str = "",
) -> UsageStream:
    """A usage endpoint, /organization/usage/<endpoint>, whose buckets hold results of
    object organization.usage.<result>.result; endpoint and result default to the type,
    and its table is the endpoint in camelCase."""
    endpoint = endpoint or type_
    return UsageStream(
        type=type_,
        path=f"/organization/usage/{endpoint}",
        table=_camel(endpoint),
        result_object=f"organization.usage.{result or type_}.result",
        group_by=group_by,
        filters=filters,
        metrics=metrics,
    )


_BASIC_GROUP_BY = ("project_id", "user_id", "api_key_id", "model")


# The metrics several streams share, each defined once.
REQUESTS = _metric("num_model_requests", "requests", label="requests", required=True)
CALLS = _metric("num_requests", "requests", label="calls", required=True)  # tool calls
INPUT_TOKENS = _tokens("input_tokens", required=True)

COMPLETIONS_METRICS = (
    INPUT_TOKENS,
    _tokens("output_tokens", required=True),
    _tokens("input_cached_tokens"),
    _tokens("input_audio_tokens"),
    _tokens("output_audio_tokens"),
    REQUESTS,
    _tokens("input_cache_write_tokens"),
    _tokens("input_uncached_tokens"),
    _tokens("input_text_tokens"),
    _tokens("output_text_tokens"),
    _tokens("input_cached_text_tokens"),
    _tokens("input_cached_audio_tokens"),
    _tokens("input_image_tokens"),
    _tokens("input_cached_image_tokens"),
    _tokens("output_image_tokens"),
    # 2026: cache writes split by retention; their sum is input_cache_write_tokens.
    _tokens("input_cache_write_30m_tokens"),
    _tokens("input_cache_write_12h_tokens"),
)
_COMPLETIONS_GROUP_BY = (*_BASIC_GROUP_BY, "batch", "service_tier", "api_source")

USAGE_STREAMS: tuple[UsageStream, ...] = (
    _usage(
        "audio_speeches",
        group_by=_BASIC_GROUP_BY,
        filters=COMMON_FILTERS,
        metrics=(_metric("characters", "characters", required=True), REQUESTS),
    ),
    _usage(
        "audio_transcriptions",
        group_by=_BASIC_GROUP_BY,
        filters=COMMON_FILTERS,
        metrics=(_metric("seconds", "seconds", required=True), REQUESTS),
    ),
    _usage(
        "code_interpreter_sessions",
        group_by=("project_id",),
        filters=(PROJECT_IDS,),
        metrics=(_metric("num_sessions", "sessions", label="sessions", required=True),),
    ),
    _usage(
        "completions",
        group_by=_COMPLETIONS_GROUP_BY,
        filters=(*COMMON_FILTERS, BATCH),
        metrics=COMPLETIONS_METRICS,
    ),
    UsageStream(
        type="costs",
        path="/organization/costs",
        table="costs",
        result_object="organization.costs.result",
        group_by=("project_id", "line_item", "api_key_id", "user_id", "api_source"),
        filters=(PROJECT_IDS, API_KEY_IDS, LINE_ITEMS),
        metrics=(
            _metric("amount.value", "USD", label="cost (USD)", type_="decimal"),
            _metric("amount.currency", "", label="currency", type_="str"),
            _metric("quantity", "per quantityUnit", type_="decimal"),
            _metric("quantity_unit", "", label="quantity unit", type_="str"),
        ),
        bucket_widths=("1d",),
        page_limits=tuple(COSTS_PAGE_LIMITS.items()),
        floor_to_day=True,
        group_by_since=(("api_key_id", COSTS_API_KEY_SINCE),),
    ),
    _usage(
        "embeddings",
        group_by=_BASIC_GROUP_BY,
        filters=COMMON_FILTERS,
        metrics=(INPUT_TOKENS, REQUESTS),
    ),
    _usage(
        "images",
        group_by=(*_BASIC_GROUP_BY, "size", "source"),
        filters=(*COMMON_FILTERS, SOURCES, SIZES),
        metrics=(_metric("images", "images", required=True), REQUESTS),
    ),
    _usage(
        "moderations",
        group_by=_BASIC_GROUP_BY,
        filters=COMMON_FILTERS,
        metrics=(INPUT_TOKENS, REQUESTS),
    ),
    _usage(
        "vectorstores",
        endpoint="vector_stores",
        result="vector_stores",
        group_by=("project_id",),
        filters=(PROJECT_IDS,),
        metrics=(_metric("usage_bytes", "bytes", required=True),),
    ),
    _usage(
        "file_search_calls",
        result="file_searches",
        group_by=("project_id", "user_id", "api_key_id", "vector_store_id"),
        filters=(PROJECT_IDS, USER_IDS, API_KEY_IDS, VECTOR_STORE_IDS),
        metrics=(CALLS,),
    ),
    _usage(
        "web_search_calls",
        result="web_searches",
        group_by=(*_BASIC_GROUP_BY, "context_level", "api_source"),
        filters=(*COMMON_FILTERS, CONTEXT_LEVELS),
        metrics=(REQUESTS, CALLS),
    ),
    # 2026: the Decisions API's token usage, shaped like completions.
    _usage(
        "decisions",
        group_by=_COMPLETIONS_GROUP_BY,
        filters=(*COMMON_FILTERS, BATCH),
        metrics=COMPLETIONS_METRICS,
    ),
)

# Every column of the usage tables by name, for the readers that hold a column's name
# (a chart's grouping, a table's header, a URL's filter): a name is one Field in every
# stream that has it.
COLUMNS: dict[str, Field] = {
    f.column: f for s in USAGE_STREAMS for f in (*s.dimensions, *s.metrics)
}

DIRECTORY_STREAMS: tuple[DirectoryStream, ...] = (
    DirectoryStream(
        type="projects",
        path="/organization/projects",
        table="projects",
        item_object="organization.project",
        params=(
            Param(
                "IncludeArchived",
                "INCLUDE ARCHIVED",
                "bool",
                "include_archived",
                help="Also list archived projects, so older usage keeps its names.",
            ),
        ),
        fields=(
            _f("id", "str"),
            _f("object", "str"),
            _f("name", "str"),
            _f("created_at", "int"),
            _f("archived_at", "int"),
            _f("status", "str"),
        ),
    ),
    DirectoryStream(
        type="users",
        path="/organization/users",
        table="users",
        item_object="organization.user",
        params=(Param("Emails", "EMAILS", "emails", "emails"),),
        fields=(
            _f("id", "str"),
            _f("object", "str"),
            _f("name", "str"),
            _f("email", "str"),
            _f("role", "str"),
            _f("added_at", "int"),
            _f("is_service_account", "bool"),
            _f("api_key_last_used_at", "int"),
            _f("projects", "json"),
        ),
    ),
    DirectoryStream(
        type="api_keys",
        path="/organization/projects/{project_id}/api_keys",
        table="apiKeys",
        item_object="organization.project.api_key",
        params=(
            Param(
                "ProjectIds",
                "PROJECT IDS",
                "ids",
                None,
                id_prefix="proj_",
                help="Empty: the keys of every project.",
            ),
        ),
        fields=(
            _f("id", "str"),
            _f("object", "str"),
            _f("name", "str"),
            _f("redacted_value", "str"),
            _f("created_at", "int"),
            _f("last_used_at", "int"),
            _f("expires_at", "int"),
            _f("project_id", "str"),
            _f("owner.type", "str", column="ownerType"),
            _f("owner.*.id", "str", column="ownerId"),
            _f("owner.*.name", "str", column="ownerName"),
        ),
        per_project=True,
    ),
)

# Listed with each project's API keys (they own some of them); not a query type.
SERVICE_ACCOUNTS = DirectoryStream(
    type="service_accounts",
    path="/organization/projects/{project_id}/service_accounts",
    table="serviceAccounts",
    item_object="organization.project.service_account",
    params=(),
    fields=(
        _f("id", "str"),
        _f("object", "str"),
        _f("name", "str"),
        _f("role", "str"),
        _f("created_at", "int"),
        _f("project_id", "str"),
    ),
    per_project=True,
)

Stream = UsageStream | DirectoryStream

# The QUERY TYPE options, in the product's order.
STREAMS: dict[str, Stream] = {s.type: s for s in (*USAGE_STREAMS, *DIRECTORY_STREAMS)}
COMPOSITE_TYPES = ("all", "generic")
QUERY_TYPES: tuple[str, ...] = (*STREAMS, *COMPOSITE_TYPES)


def generic_params() -> tuple[Param, ...]:
    """The one shared parameter set of `generic`: every stream's parameters, once each."""
    seen: dict[str, Param] = {}
    widths: list[str] = []
    group_by: list[str] = []
    for stream in STREAMS.values():
        for param in stream.params:
            if param.kind == "width":
                widths += [w for w in param.choices if w not in widths]
            elif param.kind == "groupby":
                group_by += [g for g in param.choices if g not in group_by]
            seen.setdefault(param.suffix, param)
    order = ("1m", "1h", "1d")
    seen["BucketWidth"] = _replace(seen["BucketWidth"], tuple(w for w in order if w in widths))
    seen["GroupBy"] = _replace(seen["GroupBy"], tuple(group_by))
    return tuple(seen.values())


def _replace(param: Param, choices: tuple[str, ...]) -> Param:
    return Param(**{**param.__dict__, "choices": choices})


def streams_for(query_type: str) -> tuple[Stream, ...]:
    """The streams a task of this query type collects."""
    if query_type in COMPOSITE_TYPES:
        return tuple(STREAMS.values())
    return (STREAMS[query_type],)


def technical_name(prefix: str, param: Param) -> str:
    return f"{prefix}-{param.suffix}"


# --- time buckets -------------------------------------------------------------------


def floor_time(moment: datetime, width: str) -> datetime:
    """The start of the UTC bucket of `width` that contains `moment`."""
    seconds = WIDTH_SECONDS[width]
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def bucket_count(stream: UsageStream, width: str, start: datetime, end: datetime) -> int:
    """How many buckets the API returns for [start, end).

    Usage buckets start at `start` and end at the next UTC boundary; costs buckets are
    floored to the UTC day.
    """
    if stream.floor_to_day:
        start = floor_time(start, "1d")
    if end <= start:
        return 0
    first_boundary = floor_time(start, width) + timedelta(seconds=WIDTH_SECONDS[width])
    if end <= first_boundary:
        return 1
    rest = (end - first_boundary).total_seconds()
    return 1 + math.ceil(rest / WIDTH_SECONDS[width])


def request_count(stream: UsageStream, width: str, start: datetime, end: datetime) -> int:
    """The minimum number of requests that collect [start, end): pages of the largest size."""
    _, largest = stream.page_limit(width)
    return max(1, math.ceil(bucket_count(stream, width, start, end) / largest))
