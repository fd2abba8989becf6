"""The Data API's OpenAPI 3.1 description, generated from the tables it serves: a new
stream or directory table is described by itself."""

from __future__ import annotations

from functools import cache

import orjson

from connectors.dataapi.filters import OPERATORS
from connectors.dataapi.reads import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from connectors.dataapi.tables import Column, Table, tables

_SCHEMAS = {
    "int": {"type": "integer"},
    "decimal": {"type": "string", "format": "decimal", "description": "An exact decimal."},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "str": {"type": "string"},
    "time": {"type": "string", "format": "date-time"},
    "json": {},
}

FILTER_HELP = (
    'A JSON condition [column, operator, value], e.g. ["model","=","gpt-4o"], or '
    'conditions combined: [cond, "and", cond], [cond, "or", [cond, "and", cond]] '
    "(one of and/or per list; nest to mix them). Operators: "
    + ", ".join(OPERATORS)
    + ". contains and startswith ignore case. null as the value: = tests IS NULL, "
    "<> and != IS NOT NULL. <> and != also select rows without a value."
)


def _column_schema(column: Column) -> dict:
    schema = dict(_SCHEMAS[column.type])
    if column.type != "json":
        schema["type"] = [schema["type"], "null"]
    about = " ".join(p for p in (column.about, "" if column.filterable else "Not filterable.") if p)
    if about:
        schema["description"] = about
    return schema


def _row_schema(table: Table) -> dict:
    return {
        "type": "object",
        "properties": {c.name: _column_schema(c) for c in table.columns},
    }


def _parameters() -> list[dict]:
    return [
        {
            "name": "page",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "default": 1},
            "description": "Page number (OFFSET: deep pages cost more; prefer `next`).",
        },
        {
            "name": "page_size",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_PAGE_SIZE,
                "default": DEFAULT_PAGE_SIZE,
            },
        },
        {"name": "filter", "in": "query", "schema": {"type": "string"}, "description": FILTER_HELP},
        {
            "name": "format",
            "in": "query",
            "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"},
            "description": "Or send Accept: text/csv.",
        },
        {
            "name": "connector",
            "in": "query",
            "schema": {"type": "integer"},
            "description": "Only this connector's rows (404 when the key may not read it).",
        },
        {
            "name": "cursor",
            "in": "query",
            "schema": {"type": "string"},
            "description": "The position after a page, from its `next` link (or Link header).",
        },
    ]


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _path(table: Table) -> dict:
    schema_name = f"{table.name[0].upper()}{table.name[1:]}Row"
    envelope = {
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{schema_name}"}},
            "page": {"type": "integer"},
            "page_size": {"type": "integer"},
            "next": {"type": ["string", "null"], "format": "uri"},
        },
        "required": ["data", "page", "page_size", "next"],
    }
    return {
        "get": {
            "operationId": f"read_{table.name}",
            "summary": f"Rows of {table.name} ({table.kind}), ordered by {table.columns[0].name}",
            "parameters": [{"$ref": f"#/components/parameters/{p['name']}"} for p in _parameters()],
            "responses": {
                "200": {
                    "description": "One page (CSV: the next page in a Link header).",
                    "content": {
                        "application/json": {"schema": envelope},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                "400": _error("A malformed parameter or filter, said in words."),
                "401": _error("No key, or an unknown, revoked or expired key."),
                "404": _error("No such table, or a connector the key may not read."),
                "405": _error("Anything but GET."),
                "429": _error("Over the key's rate limit; see Retry-After."),
                "503": _error("The query ran past the statement timeout."),
            },
        }
    }, schema_name


def _focus_path() -> dict:
    def day(name: str, about: str) -> dict:
        return {
            "name": name,
            "in": "query",
            "schema": {"type": "string", "format": "date"},
            "description": about,
        }

    return {
        "get": {
            "operationId": "focus_costs",
            "summary": "The costs as FOCUS 1.2 charges (CSV), each UTC day from one task",
            "parameters": [
                day("start", "The first UTC day (optional)."),
                day("end", "The first UTC day left out (optional)."),
                {
                    "name": "connector",
                    "in": "query",
                    "schema": {"type": "integer"},
                    "description": "One connector's costs (default: all the key reads).",
                },
            ],
            "responses": {
                "200": {
                    "description": "FOCUS 1.2 columns, one charge per row.",
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                "400": _error("A malformed parameter, said in words."),
                "401": _error("No key, or an unknown, revoked or expired key."),
                "404": _error("A connector the key may not read."),
                "405": _error("Anything but GET."),
                "429": _error("Over the key's rate limit; see Retry-After."),
            },
        }
    }


@cache
def document() -> dict:
    paths, schemas = {}, {}
    for table in tables().values():
        path, schema_name = _path(table)
        paths[f"/v1/resultDatabase/{table.name}/paged"] = path
        schemas[schema_name] = _row_schema(table)
    paths["/v1/focus/costs"] = _focus_path()
    schemas["Error"] = {
        "type": "object",
        "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Data Hub Data API",
            "version": "1",
            "description": "Read-only access to every collected table. See the Data API page.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": {p["name"]: p for p in _parameters()},
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "ApiKey"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"ApiKey": []}, {"Bearer": []}],
    }


@cache
def document_json() -> bytes:
    return orjson.dumps(document())
