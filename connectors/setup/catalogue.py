"""The connector catalogue: the connector types a user can add, as data.

A second connector type is an entry here and much more: a package beside
connectors/openai/ (client, registry, rows), its form and key check, and the modules that
import connectors.openai directly today (about 20, see docs/architecture.md) taught to
choose by the connector's kind.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConnectorType:
    slug: str
    name: str
    category: str
    version: str
    logo: str  # a path under static/
    summary: str


CATALOGUE: dict[str, ConnectorType] = {
    "openai": ConnectorType(
        slug="openai",
        name="OpenAI",
        category="A.I.",
        version="1.0.0",
        logo="img/connector-openai.svg",
        summary="Usage, costs, projects, users and API keys of an OpenAI organization, "
        "through the Admin API.",
    ),
}


def categories() -> list[str]:
    """The category tabs: All, then each category in the catalogue once."""
    return ["All", *dict.fromkeys(t.category for t in CATALOGUE.values())]
