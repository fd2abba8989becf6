"""The emulated organization's fixed vocabulary: timeline, models, rhythm and usage recipes.

A recipe says how one stream's metrics are generated. Its `leaves` are generated and split
over time independently; every other integer metric is a sum of leaves (`derived`), so
the relations between totals hold in every bucket. The first leaf drives activity (it is
the request count where the stream has one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.openai.streams import UsageStream

MINUTE, HOUR, DAY = 60, 3600, 86400
ORG_START = 1735689600  # 2025-01-01T00:00:00Z: the organization is created
CREATION_END = 1792022400  # 2026-10-15T00:00:00Z: the last project, user or key appears

# Relative activity per local hour of the day (people work, then sleep).
RHYTHM = (2, 1, 1, 1, 1, 2, 4, 7, 11, 14, 16, 16, 14, 15, 16, 16, 14, 11, 8, 6, 5, 4, 3, 2)


@dataclass(frozen=True)
class Model:
    name: str
    released: int
    kind: str = "text"  # text | vision | reasoning | audio: selects the token profile


_COMPLETION_MODELS = (
    Model("gpt-4o-2024-08-06", 1722902400, "vision"),
    Model("gpt-4o-mini-2024-07-18", 1721260800, "vision"),
    Model("gpt-4o-audio-preview-2024-12-17", 1734393600, "audio"),
    Model("o4-mini-2025-04-16", 1744761600, "reasoning"),
    Model("o3-2025-04-16", 1744761600, "reasoning"),
    Model("gpt-4.1-2025-04-14", 1744588800, "vision"),
    Model("gpt-4.1-mini-2025-04-14", 1744588800),
    Model("gpt-5-2025-08-07", 1754524800, "reasoning"),
    Model("gpt-5-mini-2025-08-07", 1754524800, "reasoning"),
    Model("gpt-realtime-2025-08-28", 1756339200, "audio"),
)

MODELS: dict[str, tuple[Model, ...]] = {
    "completions": _COMPLETION_MODELS,
    "embeddings": (
        Model("text-embedding-3-small", 1706140800),
        Model("text-embedding-3-large", 1706140800),
        Model("text-embedding-ada-002-v2", 1671062400),
    ),
    "moderations": (
        Model("omni-moderation-latest", 1727308800),
        Model("text-moderation-latest", 1671062400),
    ),
    "images": (
        Model("dall-e-3", 1699228800),
        Model("dall-e-2", 1671062400),
        Model("gpt-image-1", 1745366400),
    ),
    "audio_speeches": (
        Model("tts-1", 1699228800),
        Model("tts-1-hd", 1699228800),
        Model("gpt-4o-mini-tts", 1742428800),
    ),
    "audio_transcriptions": (
        Model("whisper-1", 1671062400),
        Model("gpt-4o-transcribe", 1742428800),
        Model("gpt-4o-mini-transcribe", 1742428800),
    ),
    # The Decisions API runs on reasoning models.
    "decisions": (
        Model("o4-mini-2025-04-16", 1744761600, "reasoning"),
        Model("gpt-5-2025-08-07", 1754524800, "reasoning"),
        Model("gpt-5-mini-2025-08-07", 1754524800, "reasoning"),
    ),
    "web_search_calls": (
        Model("gpt-4o-2024-08-06", 1722902400),
        Model("gpt-4.1-2025-04-14", 1744588800),
        Model("gpt-5-2025-08-07", 1754524800),
    ),
}

# Values of dimensions that no filter enumerates; the first is the usual one.
DIMENSION_VALUES: dict[str, tuple] = {
    "batch": (False, True),
    "service_tier": ("default", "flex", "priority"),
    "context_level": ("medium", "low", "high"),
    "source": ("image.generation", "image.edit", "image.variation"),
    "api_source": ("unlabeled", "agents_api"),
}
# How likely one key also uses a dimension's other values (default 0.4): agents built on
# the Agents API are common among keys that call these endpoints.
VARIANT_SHARE: dict[str, float] = {"api_source": 0.6}


@dataclass(frozen=True)
class Recipe:
    leaves: tuple[str, ...]
    means: dict[str, tuple[float, ...]]  # per model kind ("*": any): leaves[1:] per driver unit
    derived: dict[str, tuple[str, ...]] = field(default_factory=dict)
    daily: tuple[float, float] = (10.0, 500.0)  # driver per active day, log-uniform
    share: float = 0.3  # how likely one key (or project) uses this stream

    def means_for(self, kind: str) -> tuple[float, ...]:
        return self.means.get(kind) or self.means.get("*") or (1.0,) * (len(self.leaves) - 1)


_COMPLETION_LEAVES = (
    "num_model_requests",
    "input_text_tokens",
    "input_audio_tokens",
    "input_image_tokens",
    "input_cached_text_tokens",
    "input_cached_audio_tokens",
    "input_cached_image_tokens",
    "input_cache_write_30m_tokens",
    "input_cache_write_12h_tokens",
    "output_text_tokens",
    "output_audio_tokens",
    "output_image_tokens",
)

# Input tokens include the cached and the cache-written ones; cache writes are split by
# retention (30 minutes, 12 hours) and sum to input_cache_write_tokens.
_COMPLETION_DERIVED = {
    "input_uncached_tokens": _COMPLETION_LEAVES[1:4],
    "input_cached_tokens": _COMPLETION_LEAVES[4:7],
    "input_cache_write_tokens": _COMPLETION_LEAVES[7:9],
    "input_tokens": _COMPLETION_LEAVES[1:9],
    "output_tokens": _COMPLETION_LEAVES[9:12],
}

_RECIPES: dict[str, Recipe] = {
    "completions": Recipe(
        leaves=_COMPLETION_LEAVES,
        means={
            "text": (900, 0, 0, 600, 0, 0, 65, 15, 350, 0, 0),
            "vision": (800, 0, 400, 500, 0, 60, 55, 15, 300, 0, 4),
            "reasoning": (1500, 0, 100, 1200, 0, 0, 90, 30, 1800, 0, 0),
            "audio": (150, 700, 0, 100, 300, 0, 20, 0, 60, 500, 0),
        },
        derived=_COMPLETION_DERIVED,
        daily=(30, 4000),
        share=1.0,
    ),
    # Agent decisions: long prompts, mostly cached, with longer-lived cache writes.
    "decisions": Recipe(
        leaves=_COMPLETION_LEAVES,
        means={"reasoning": (2400, 0, 0, 3200, 0, 0, 60, 140, 900, 0, 0)},
        derived=_COMPLETION_DERIVED,
        daily=(5, 900),
        share=0.25,
    ),
    "embeddings": Recipe(
        ("num_model_requests", "input_tokens"), {"*": (650,)}, daily=(20, 8000), share=0.45
    ),
    "moderations": Recipe(
        ("num_model_requests", "input_tokens"), {"*": (250,)}, daily=(20, 3000), share=0.3
    ),
    "images": Recipe(("num_model_requests", "images"), {"*": (1.4,)}, daily=(2, 150), share=0.25),
    "audio_speeches": Recipe(
        ("num_model_requests", "characters"), {"*": (700,)}, daily=(5, 400), share=0.2
    ),
    "audio_transcriptions": Recipe(
        ("num_model_requests", "seconds"), {"*": (95,)}, daily=(5, 300), share=0.2
    ),
    "vectorstores": Recipe(("usage_bytes",), {}, daily=(2e7, 4e9), share=1.0),
    "code_interpreter_sessions": Recipe(("num_sessions",), {}, daily=(2, 60), share=0.5),
    "file_search_calls": Recipe(("num_requests",), {}, daily=(10, 600), share=0.35),
    "web_search_calls": Recipe(
        ("num_model_requests", "num_requests"), {"*": (1.6,)}, daily=(5, 500), share=0.3
    ),
}


def recipe_for(stream: UsageStream) -> Recipe:
    """The stream's recipe; integer metrics it does not know become extra leaves.

    A stream added to the registry without a recipe is served with generic numbers.
    """
    recipe = _RECIPES.get(stream.type)
    int_metrics = [f.api for f in stream.metrics if f.type == "int"]
    if recipe is None:
        required = [f.api for f in stream.metrics if f.type == "int" and f.required]
        order = required[:1] + [m for m in int_metrics if m not in required[:1]]
        return Recipe(tuple(order), {})
    known = set(recipe.leaves) | set(recipe.derived)
    extra = tuple(m for m in int_metrics if m not in known)
    if not extra:
        return recipe
    means = {kind: (*values, *(1.0,) * len(extra)) for kind, values in recipe.means.items()}
    return Recipe(recipe.leaves + extra, means, recipe.derived, recipe.daily, recipe.share)


def models_for(stream: UsageStream) -> tuple[Model, ...]:
    return MODELS.get(stream.type, _COMPLETION_MODELS)
