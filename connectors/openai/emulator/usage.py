"""Usage buckets as the API returns them, and the per-seed data behind every stream."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from operator import itemgetter

from connectors.openai.emulator.catalog import recipe_for
from connectors.openai.emulator.engine import StreamData, aggregate
from connectors.openai.emulator.org import Org, build_org
from connectors.openai.emulator.params import BucketQuery, bucket_edges
from connectors.openai.streams import UsageStream


class OrgData:
    """Everything derived from one seed: the directory, the streams' tables, costs cells."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.org: Org = build_org(seed)
        self._streams: dict[str, StreamData] = {}
        self.costs_cache: dict[int, dict] = {}

    def stream(self, stream: UsageStream) -> StreamData:
        found = self._streams.get(stream.path)
        if found is None:
            found = self._streams[stream.path] = StreamData(self.org, stream)
        return found


class ResultPlan:
    """How a stream's result objects are made from leaf totals, quickly."""

    def __init__(self, stream: UsageStream) -> None:
        self.stream = stream
        recipe = recipe_for(stream)
        leaves = {name: j for j, name in enumerate(recipe.leaves)}
        self.sums = [tuple(leaves[p] for p in parts) for parts in recipe.derived.values()]
        derived = {name: len(leaves) + j for j, name in enumerate(recipe.derived)}
        positions = []
        for field in stream.metrics:
            known = field.type == "int" and (field.api in leaves or field.api in derived)
            positions.append(leaves.get(field.api, derived.get(field.api)) if known else -1)
        self.metric_names = [f.api for f in stream.metrics]
        self.positions = positions
        self.names = ("object", *self.metric_names, *stream.group_by)
        self.group_by = stream.group_by
        self.result_object = stream.result_object
        self._dims: dict[tuple[str, ...], Callable[[tuple], tuple]] = {}
        self._metrics = _picker(positions)

    def result(self, group_by: tuple[str, ...], key: tuple, leaves: list[int]) -> dict:
        values = leaves + [sum([leaves[j] for j in parts]) for parts in self.sums] + [None]
        dims = self._dims.get(group_by)
        if dims is None:  # where each of the stream's dimensions sits in a group key
            dims = self._dims[group_by] = _picker(
                [group_by.index(d) if d in group_by else len(group_by) for d in self.group_by]
            )
        return dict(
            zip(
                self.names,
                (self.result_object, *self._metrics(values), *dims((*key, None))),
                strict=True,
            )
        )


def _picker(positions: list[int]):
    """A function seq -> tuple of seq's items at `positions` (itemgetter, always a tuple)."""
    if len(positions) == 1:
        at = positions[0]
        return lambda seq: (seq[at],)
    return itemgetter(*positions) if positions else lambda seq: ()


@lru_cache(maxsize=64)
def plan_for(stream: UsageStream) -> ResultPlan:
    return ResultPlan(stream)


def matches(dims: dict, filters: tuple[tuple[str, frozenset], ...]) -> bool:
    return all(dims.get(dim) in values for dim, values in filters)


@lru_cache(maxsize=65536)  # the same groups come back bucket after bucket
def sort_key(key: tuple) -> tuple:
    return tuple((value is None, str(value)) for value in key)


def usage_buckets(
    data: StreamData, query: BucketQuery, end: int, first: int, count: int, now: int, finality: int
) -> list[dict]:
    """Buckets first .. first + count - 1 of a usage query, as of `now`."""
    edges = bucket_edges(query, end, first, count)
    picks = [
        (index, tuple(series.dims.get(d) for d in query.group_by))
        for index, series in enumerate(data.series)
        if matches(series.dims, query.filters)
    ]
    sums = aggregate(data, picks, [-(-edge // 60) for edge in edges], now, finality)
    plan = plan_for(query.stream)
    return [
        {
            "object": "bucket",
            "start_time": edges[i],
            "end_time": edges[i + 1],
            "results": [
                plan.result(query.group_by, key, sums[i][key])
                for key in sorted(sums[i], key=sort_key)
                if any(sums[i][key])
            ],
        }
        for i in range(len(edges) - 1)
    ]
