"""Pagination fails loudly on answers that break the contract, never stops silently."""

from __future__ import annotations

import pytest

from connectors.openai.pages import ContractError, list_pages, usage_pages

PATH = "/organization/usage/completions"


def bucket(start: int, end: int) -> dict:
    return {"object": "bucket", "start_time": start, "end_time": end, "results": []}


def serve(*pages):
    answers = iter(pages)
    return lambda params: next(answers)


def page(buckets, has_more=False, next_page=None) -> dict:
    return {"object": "page", "data": buckets, "has_more": has_more, "next_page": next_page}


def test_it_follows_cursors_to_exhaustion():
    fetch = serve(
        page([bucket(0, 10), bucket(10, 20)], True, "page_a"),
        page([bucket(20, 30)], True, "page_b"),
        page([bucket(30, 40)]),
    )
    pages = list(usage_pages(fetch, PATH, {}, 0))
    assert [b["start_time"] for p in pages for b in p] == [0, 10, 20, 30]


@pytest.mark.parametrize(
    ("pages", "message"),
    [
        (
            (page([bucket(0, 10)], True, "page_a"), page([bucket(10, 20)], True, "page_a")),
            "same page cursor twice",
        ),
        (
            (page([bucket(0, 10)], True, "page_a"), page([bucket(20, 30)])),
            "skipped or repeated time",
        ),
        ((page([bucket(0, 10)], True, None),), "gave no next_page"),
        ((page([bucket(5, 10)]),), "expected 0"),
        (({"object": "list", "data": []},), "did not answer with a page"),
        ((page([{"object": "bucket", "start_time": 0, "end_time": 10}]),), "without results"),
        ((page([], True, "page_a"),), "empty page"),
    ],
)
def test_it_refuses_pages_that_break_the_contract(pages, message):
    with pytest.raises(ContractError, match=message):
        list(usage_pages(serve(*pages), PATH, {}, 0))


def test_it_refuses_a_directory_list_that_repeats_its_cursor():
    listing = {"object": "list", "data": [{"id": "a"}], "has_more": True, "last_id": "a"}
    with pytest.raises(ContractError, match="no new cursor"):
        list(list_pages(serve(listing, listing), "/organization/users", {}))
