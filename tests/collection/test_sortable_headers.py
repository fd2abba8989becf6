"""Every sortable column header says how the table is sorted (aria-sort): the sorted
column "ascending" or "descending", every other sortable one "none", on the usage and
cost tables and the directory tables alike."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from connectors.explore.datatables import usage_streams
from connectors.explore.directory import DIRECTORY_TABLES

TABLES = [s.table for s in usage_streams()] + list(DIRECTORY_TABLES)


class Headers(HTMLParser):
    """The header cells of a page: their aria-sort, and whether they hold a sort link."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "th":
            self._open = {"aria_sort": attrs.get("aria-sort"), "sorts": False, "text": ""}
            self.cells.append(self._open)
        elif tag == "a" and self._open is not None and "sort=" in (attrs.get("href") or ""):
            self._open["sorts"] = True

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._open = None


def sortable_headers(html: str) -> list[dict]:
    parser = Headers()
    parser.feed(html)
    return [cell for cell in parser.cells if cell["sorts"]]


@pytest.mark.parametrize("table", TABLES)
def test_it_marks_every_sortable_header_with_aria_sort(staff_client, connector, table):
    url = reverse("connectors:table-detail", args=[connector.pk, table])
    first = sortable_headers(staff_client.get(url).content.decode())
    assert len(first) >= 2
    assert all(cell["aria_sort"] in ("ascending", "descending", "none") for cell in first)
    assert sum(cell["aria_sort"] != "none" for cell in first) == 1  # sorted by one column

    column = next(c for c in first if c["aria_sort"] == "none")["text"].split()[0]
    again = sortable_headers(staff_client.get(url, {"sort": f"-{column}"}).content.decode())
    sorted_now = [c for c in again if c["aria_sort"] != "none"]
    assert [(c["text"].split()[0], c["aria_sort"]) for c in sorted_now] == [(column, "descending")]
