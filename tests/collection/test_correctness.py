"""Collected tables equal the emulator's ground truth, for every query type."""

from __future__ import annotations

import math

import pytest
from django.db.models import Count

from connectors.models import USAGE_TABLES, ApiKeyEntry, ProjectEntry, UserEntry
from connectors.openai.streams import STREAMS, USAGE_STREAMS
from tests.collection.conftest import epoch, run_now, table_rows, truth_rows

WIDTH_RANGES = {
    "1d": ("2026-09-01", "2026-10-15"),
    "1h": ("2026-10-20", "2026-10-24"),
    "1m": ("2026-10-30T10:00:00", "2026-10-30T13:30:00"),
}


@pytest.mark.parametrize("stream", USAGE_STREAMS, ids=lambda s: s.type)
@pytest.mark.parametrize("grouped", [False, True], ids=["ungrouped", "grouped"])
def test_it_collects_every_usage_stream_exactly(make_task, emulator, stream, grouped):
    width = stream.bucket_widths[-1] if stream.floor_to_day else "1h"
    start, end = WIDTH_RANGES[width]
    task = make_task(
        stream.type,
        StartTime=start,
        EndTime=end,
        BucketWidth=width,
        GroupBy=list(stream.group_by) if grouped else [],
    )
    run = run_now(task)
    assert run.status == "succeeded", run.error
    assert table_rows(task, stream.type) == truth_rows(emulator, task, stream.type)
    assert run.rows_inserted == USAGE_TABLES[stream.type].objects.filter(task=task).count()


@pytest.mark.parametrize("width", ["1m", "1h", "1d"])
def test_it_collects_every_bucket_width(make_task, emulator, width):
    start, end = WIDTH_RANGES[width]
    task = make_task(
        "completions",
        StartTime=start,
        EndTime=end,
        BucketWidth=width,
        GroupBy=["project_id", "model", "batch"],
    )
    assert run_now(task).status == "succeeded"
    assert table_rows(task, "completions") == truth_rows(emulator, task, "completions")


def test_it_applies_filters(make_task, emulator):
    project_ids = [p["id"] for p in emulator.directory_truth()["projects"]][:2]
    task = make_task(
        "completions",
        StartTime="2026-10-01",
        EndTime="2026-10-10",
        GroupBy=["project_id", "model"],
        ProjectIds=project_ids,
        Batch=False,
    )
    assert run_now(task).status == "succeeded"
    rows = table_rows(task, "completions")
    assert rows == truth_rows(emulator, task, "completions")
    assert rows and {dims[0] for _, dims in rows} <= set(project_ids)


def test_it_makes_the_minimum_number_of_requests(make_task, emulator):
    start, end = "2026-06-01", "2026-10-01"
    task = make_task("completions", StartTime=start, EndTime=end, BucketWidth="1h")
    emulator.log.clear()
    run = run_now(task)
    hours = (epoch(end) - epoch(start)) // 3600
    largest_page = STREAMS["completions"].page_limit("1h")[1]
    assert run.status == "succeeded"
    assert emulator.log.count("/organization/usage/completions") == math.ceil(hours / largest_page)
    assert all(
        r.params["limit"] == [str(largest_page)]
        for r in emulator.log.records
        if r.path == "/organization/usage/completions"
    )


def test_it_never_duplicates_a_row_when_run_again(make_task, emulator):
    task = make_task("embeddings", StartTime="2026-10-01", EndTime="2026-10-05", BucketWidth="1h")
    first = run_now(task)
    second = run_now(task)
    model = USAGE_TABLES["embeddings"]
    assert second.status == "succeeded"
    assert (second.rows_inserted, second.rows_updated) == (0, 0)
    assert second.rows_unchanged == first.rows_inserted == model.objects.filter(task=task).count()
    dupes = model.objects.values("start_time", "row_key").annotate(n=Count("id")).filter(n__gt=1)
    assert not dupes.exists()
    # Ungrouped: every dimension is NULL, and NULLs must still collide on the natural key.
    assert model.objects.filter(task=task, projectId__isnull=False).count() == 0


def test_it_collects_all_with_each_section_own_parameters(live_connector, emulator):
    from connectors.models import Task

    params = {"type": "all"}
    for stream in USAGE_STREAMS:
        params |= {
            f"{stream.type}-StartTime": "2026-10-20",
            f"{stream.type}-EndTime": "2026-10-23",
            f"{stream.type}-BucketWidth": "1d",
            f"{stream.type}-GroupBy": [stream.group_by[0]],
        }
    params["projects-IncludeArchived"] = True
    task = Task.objects.create(connector=live_connector, query_type="all", parameters=params)
    run = run_now(task)
    assert run.status == "succeeded", run.error
    for stream in USAGE_STREAMS:
        assert table_rows(task, stream.type) == truth_rows(emulator, task, stream.type), stream.type
    truth = emulator.directory_truth()
    assert ProjectEntry.objects.count() == len(truth["projects"])


def test_it_collects_generic_dropping_what_an_endpoint_does_not_support(live_connector, emulator):
    from connectors.models import Task

    params = {
        "type": "generic",
        "generic-StartTime": "2026-10-20",
        "generic-EndTime": "2026-10-22",
        "generic-BucketWidth": "1h",
        "generic-GroupBy": ["project_id", "user_id", "line_item"],
    }
    task = Task.objects.create(connector=live_connector, query_type="generic", parameters=params)
    run = run_now(task)
    assert run.status == "succeeded", run.error
    for stream in USAGE_STREAMS:
        assert table_rows(task, stream.type) == truth_rows(emulator, task, stream.type), stream.type
    costs = USAGE_TABLES["costs"].objects.filter(task=task)
    assert set(costs.values_list("bucket_width", flat=True)) == {"1d"}


def test_it_collects_the_directory_with_archived_projects_and_every_key(make_task, emulator):
    truth = emulator.directory_truth()
    for query_type in ("projects", "users", "api_keys"):
        assert run_now(make_task(query_type)).status == "succeeded"
    assert set(ProjectEntry.objects.values_list("openai_id", flat=True)) == {
        p["id"] for p in truth["projects"]
    }
    assert ProjectEntry.objects.filter(status="archived").exists()
    assert set(UserEntry.objects.values_list("openai_id", flat=True)) == {
        u["id"] for u in truth["users"]
    }
    listed_keys = {k["id"] for keys in truth["api_keys"].values() for k in keys}
    assert set(ApiKeyEntry.objects.values_list("openai_id", flat=True)) == listed_keys
