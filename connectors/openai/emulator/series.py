"""Usage series: one per distinct combination of a stream's dimensions that ever has usage.

A series is what a result row is made of when the query groups by every dimension. Its
dimensions come from the directory (a key brings its project and owner), the model
catalogue and the stream's dimension values; its rates come from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.openai.emulator.catalog import (
    DIMENSION_VALUES,
    HOUR,
    VARIANT_SHARE,
    Model,
    Recipe,
    models_for,
    recipe_for,
)
from connectors.openai.emulator.mix import between, h64, log_between, pick, text_key, unit
from connectors.openai.emulator.org import ApiKey, Org, Project
from connectors.openai.streams import UsageStream

_KEY_DIMENSIONS = ("project_id", "user_id", "api_key_id", "model")


@dataclass(frozen=True)
class Series:
    key: int
    dims: dict[str, object]
    start: int  # hour-aligned, inclusive
    end: int | None  # hour-aligned, exclusive
    base: float  # driver per active day
    weekend: float
    tz: int
    growth: float  # relative growth per year
    idle_week: float  # share of weeks without any use
    means: tuple[float, ...]


def dimension_values(stream: UsageStream, dim: str, project: Project | None) -> tuple:
    """The values a dimension takes; the first is the usual one."""
    if dim == "vector_store_id":
        return project.vector_stores if project else ()
    if dim in DIMENSION_VALUES:
        return DIMENSION_VALUES[dim]
    for param in stream.filters:
        if param.choices and param.api in (dim + "s", dim):
            return param.choices
    return ("default",)


def build_series(org: Org, stream: UsageStream) -> tuple[Series, ...]:
    recipe = recipe_for(stream)
    salt = h64(org.seed, text_key(stream.type))
    if "api_key_id" in stream.group_by or "user_id" in stream.group_by:
        found = [s for key in org.keys if key.used for s in _key_series(org, stream, recipe, key)]
    elif "project_id" in stream.group_by:
        found = [s for p in org.projects if (s := _project_series(stream, recipe, salt, p))]
    else:
        found = [_series(stream, recipe, h64(salt, 1), {}, 0, None, 0, None)]
    return tuple(found)


def _key_series(org: Org, stream: UsageStream, recipe: Recipe, key: ApiKey) -> list[Series]:
    h = h64(org.seed, text_key(stream.type), text_key(key.id))
    if unit(h) >= recipe.share:
        return []
    project = org.project(key.project_id)
    extras = [d for d in stream.group_by if d not in _KEY_DIMENSIONS]
    if any(not dimension_values(stream, d, project) for d in extras):
        return []
    base = {"project_id": key.project_id, "user_id": key.user_id, "api_key_id": key.id}
    end = org.usage_end(key)
    found = [
        _series(stream, recipe, h64(h, n), {**base, **dims}, key.created_at, end, project.tz, model)
        for n, (dims, model) in enumerate(_combos(stream, h, project, extras, end))
    ]
    return [s for s in found if s.end is None or s.end > s.start]


def _combos(stream, h: int, project, extras: list[str], end: int | None) -> list:
    """The dimension combinations one key uses: each model as usual, plus a few variants."""
    models: list[Model | None] = [None]
    if "model" in stream.group_by:
        catalogue = [m for m in models_for(stream) if end is None or m.released < end]
        if not catalogue:
            return []
        picks = [pick(h64(h, 3, n), catalogue) for n in range(1 + h64(h, 2) % 3)]
        models = list({m.name: m for m in picks}.values())
    usual = {d: _usual(stream, d, project, h) for d in extras}
    combos = [({**usual, **_model_dim(m)}, m) for m in models]
    for n, dim in enumerate(extras):
        values = dimension_values(stream, dim, project)
        if len(values) > 1 and unit(h64(h, 4, n)) < VARIANT_SHARE.get(dim, 0.4):
            model = pick(h64(h, 5, n), models)
            other = pick(h64(h, 6, n), [v for v in values if v != usual[dim]])
            combos.append(({**usual, dim: other, **_model_dim(model)}, model))
    return combos


def _usual(stream: UsageStream, dim: str, project, h: int):
    values = dimension_values(stream, dim, project)
    if dim in DIMENSION_VALUES:
        return values[0]
    return pick(h64(h, 7, text_key(dim)), values)


def _model_dim(model: Model | None) -> dict:
    return {"model": model.name} if model else {}


def _project_series(stream, recipe: Recipe, salt: int, project: Project) -> Series | None:
    h = h64(salt, text_key(project.id))
    if stream.type == "vectorstores" and not project.vector_stores:
        return None
    if unit(h) >= recipe.share:
        return None
    dims = {"project_id": project.id}
    return _series(stream, recipe, h, dims, project.created_at, project.archived_at, project.tz)


def _series(stream, recipe: Recipe, h: int, dims: dict, start: int, end, tz: int, model=None):
    if model is not None:
        start = max(start, model.released)
    start = -(-start // HOUR) * HOUR
    end = None if end is None else end // HOUR * HOUR
    variant = any(dims.get(d) not in (None, *_firsts(d)) for d in DIMENSION_VALUES)
    base = log_between(h64(h, 10), *recipe.daily) * (0.3 if variant else 1.0)
    return Series(
        key=h64(h, 11, text_key(repr(sorted(dims.items())))),
        dims=dims,
        start=start,
        end=end,
        base=base,
        weekend=between(h64(h, 12), 0.15, 0.7),
        tz=tz,
        growth=between(h64(h, 13), -0.2, 1.5),
        idle_week=between(h64(h, 14), 0.0, 0.1),
        means=recipe.means_for(model.kind if model else "*"),
    )


def _firsts(dim: str) -> tuple:
    return DIMENSION_VALUES[dim][:1]
