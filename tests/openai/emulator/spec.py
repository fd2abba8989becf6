"""Validating emulator responses against the official spec subset with openapi-core."""

from __future__ import annotations

import copy
import json
import os
from functools import lru_cache
from pathlib import Path

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS31Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

# The official spec subset, kept beside the tests with its licence and source commit
# (tests/fixtures/openai-admin-api/README.md). OPENAI_ADMIN_SPEC names another copy.
SPEC_FILE = Path(__file__).resolve().parents[2] / "fixtures/openai-admin-api/openapi-subset.yaml"


@lru_cache(maxsize=1)
def spec_dict() -> dict:
    spec = yaml.safe_load(Path(os.environ.get("OPENAI_ADMIN_SPEC") or SPEC_FILE).read_text())
    return _with_discriminator_mapping(_with_newer_additions(spec))


_NULLABLE_INT = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
_NULLABLE_STR = {"anyOf": [{"type": "string"}, {"type": "null"}]}
_API_SOURCE = {"anyOf": [{"type": "string", "enum": ["agents_api", "unlabeled"]}, {"type": "null"}]}
# What the API grew after the subset was cut (NOTES.md: the official SDK 3.57.0, and
# OpenAI's published reference for the decisions endpoint and project key expiry).
NEWER_FIELDS: dict[str, dict[str, dict]] = {
    "UsageCompletionsResult": {
        "api_source": _API_SOURCE,
        "input_cache_write_30m_tokens": _NULLABLE_INT,
        "input_cache_write_12h_tokens": _NULLABLE_INT,
    },
    "UsageWebSearchCallsResult": {"api_source": _API_SOURCE},
    "CostsResult": {"user_id": _NULLABLE_STR, "api_source": _API_SOURCE},
    "ProjectApiKey": {"expires_at": _NULLABLE_INT},
}
DECISIONS_PATH = "/organization/usage/decisions"


def _with_newer_additions(spec: dict) -> dict:
    """The subset plus the 2026 additions, in memory (the file stays as extracted): the
    newer fields, and `/organization/usage/decisions` shaped as completions."""
    spec = copy.deepcopy(spec)
    schemas = spec["components"]["schemas"]
    for name, fields in NEWER_FIELDS.items():
        schemas[name]["properties"].update(fields)
    decisions = copy.deepcopy(schemas["UsageCompletionsResult"])
    decisions["properties"]["object"]["enum"] = ["organization.usage.decisions.result"]
    schemas["UsageDecisionsResult"] = decisions
    results = schemas["UsageTimeBucket"]["properties"]["results"]["items"]
    results["oneOf"].append({"$ref": "#/components/schemas/UsageDecisionsResult"})
    completions = copy.deepcopy(spec["paths"]["/organization/usage/completions"])
    completions["get"]["operationId"] = "usage-decisions"
    spec["paths"][DECISIONS_PATH] = completions
    return spec


def _with_discriminator_mapping(spec: dict) -> dict:
    """Map each result `object` value to its schema: the spec's discriminator has no mapping."""
    spec = copy.deepcopy(spec)
    schemas = spec["components"]["schemas"]
    items = schemas["UsageTimeBucket"]["properties"]["results"]["items"]
    mapping = {}
    for option in items["oneOf"]:
        name = option["$ref"].rsplit("/", 1)[1]
        for value in schemas[name]["properties"]["object"]["enum"]:
            mapping[value] = option["$ref"]
    items["discriminator"]["mapping"] = mapping
    return spec


@lru_cache(maxsize=1)
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(spec_dict())


class _Request:
    def __init__(self, request: httpx.Request) -> None:
        self.host_url = "https://api.openai.com"
        self.path = request.url.path
        self.method = request.method.lower()
        self.body = None
        self.content_type = "application/json"
        query = [(k.removesuffix("[]"), v) for k, v in request.url.params.multi_items()]
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(query), header=Headers(dict(request.headers))
        )


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(dict(response.headers))
        self.data = response.content


def validate(response: httpx.Response) -> None:
    """Validate a 200 or 429 answer against its operation in the spec."""
    openapi().validate_response(_Request(response.request), _Response(response))


def validate_error(response: httpx.Response) -> None:
    """Validate any error body against the spec's ErrorResponse schema."""
    schema = {"$ref": "#/components/schemas/ErrorResponse", **_components()}
    OAS31Validator(schema).validate(json.loads(response.content))


def schema_properties(name: str) -> set[str]:
    return set(spec_dict()["components"]["schemas"][name]["properties"])


def _components() -> dict:
    return {"components": spec_dict()["components"]}
