"""The directory tables as pages: every entry the emulator lists, sorted, filtered by
text and state, exported exactly, and listed on the Tables page."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from connectors.models import ProjectEntry, UserEntry
from tests.collection.conftest import run_now


@pytest.fixture
def directory(make_task, emulator):
    for query_type in ("projects", "users", "api_keys"):
        extra = {"IncludeArchived": True} if query_type == "projects" else {}
        task = make_task(query_type, **extra)
        assert run_now(task).status == "succeeded"
    return emulator.directory_truth()


def page(client, connector_id, table, **params):
    url = reverse("connectors:table-detail", args=[connector_id, table])
    return client.get(url, params).content.decode()


def exported(client, connector_id, table, **params) -> list[dict]:
    url = reverse("connectors:table-export", args=[connector_id, table])
    response = client.get(url, params)
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def body_ids(html: str) -> list[str]:
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]
    return [r.split("<td>")[1].split("</td>")[0] for r in rows]


def test_it_shows_every_project_sorted_by_name_with_archived_marked(
    staff_client, live_connector, directory
):
    html = page(staff_client, live_connector.pk, "projects")
    projects = directory["projects"]
    by_name = sorted(projects, key=lambda p: (p["name"], p["id"]))
    assert body_ids(html) == [p["id"] for p in by_name]
    assert 'aria-sort="ascending"' in html
    archived = [p for p in projects if p["status"] == "archived"]
    assert archived
    assert html.count('<span class="badge">archived</span>') == len(archived)
    html = page(staff_client, live_connector.pk, "projects", sort="-name")
    assert body_ids(html) == [p["id"] for p in reversed(by_name)]
    assert 'aria-sort="descending"' in html


def test_it_filters_by_state_and_text(staff_client, live_connector, directory):
    archived = {p["id"] for p in directory["projects"] if p["status"] == "archived"}
    html = page(staff_client, live_connector.pk, "projects", status="archived")
    assert set(body_ids(html)) == archived
    html = page(staff_client, live_connector.pk, "projects", status="active")
    assert set(body_ids(html)) == {p["id"] for p in directory["projects"]} - archived
    one = directory["users"][0]
    html = page(staff_client, live_connector.pk, "users", q=one["email"].upper())
    assert body_ids(html) == [one["id"]]


def test_it_marks_a_user_openai_no_longer_lists_as_removed(staff_client, live_connector, directory):
    gone = directory["users"][1]
    UserEntry.objects.filter(openai_id=gone["id"]).update(removed_at=timezone.now())
    html = page(staff_client, live_connector.pk, "users", status="removed")
    assert body_ids(html) == [gone["id"]]
    assert '<span class="badge">removed</span>' in html
    rows = exported(staff_client, live_connector.pk, "users", status="active")
    assert gone["id"] not in {r["id"] for r in rows}
    assert len(rows) == len(directory["users"]) - 1


def test_it_exports_the_exact_values(staff_client, live_connector, directory):
    rows = {r["id"]: r for r in exported(staff_client, live_connector.pk, "projects")}
    assert set(rows) == {p["id"] for p in directory["projects"]}
    for p in directory["projects"]:
        row = rows[p["id"]]
        assert row["name"] == p["name"]
        assert row["createdAt"] == datetime.fromtimestamp(p["created_at"], UTC).isoformat()
        archived = p["archived_at"]
        assert row["archivedAt"] == (
            datetime.fromtimestamp(archived, UTC).isoformat() if archived else ""
        )
        assert row["state"] == p["status"]
    keys = exported(staff_client, live_connector.pk, "apiKeys")
    listed = {(k["id"], k["redacted_value"]) for ks in directory["api_keys"].values() for k in ks}
    assert {(k["id"], k["redactedValue"]) for k in keys} == listed


def test_it_lists_the_directory_tables_on_the_tables_page(staff_client, live_connector, directory):
    url = reverse("connectors:table-list", args=[live_connector.pk])
    html = staff_client.get(url).content.decode()
    row = html.split('tables/projects/">projects</a>')[1].split("</tr>")[0]
    archived = sum(p["status"] == "archived" for p in directory["projects"])
    total = len(directory["projects"])
    assert f'<td class="num">{total}</td>' in row
    assert f'<td class="num">{total - archived}</td>' in row
    assert f'<td class="num">{archived}</td>' in row
    for table in ("users", "apiKeys", "serviceAccounts"):
        assert f'tables/{table}/">{table}</a>' in html
    assert ProjectEntry.objects.count() == total


def test_it_shows_the_directory_to_viewers_and_asks_strangers_to_log_in(
    client, viewer_client, live_connector, directory
):
    url = reverse("connectors:table-detail", args=[live_connector.pk, "users"])
    assert viewer_client.get(url).status_code == 200
    assert client.get(url).status_code == 302
    missing = reverse("connectors:table-detail", args=[live_connector.pk, "teams"])
    assert viewer_client.get(missing).status_code == 404
