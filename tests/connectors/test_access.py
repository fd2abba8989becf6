"""Everything needs a login; only Data administrators (staff) change anything."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse


def manage_urls(connector, task) -> list[tuple[str, str]]:
    return [
        ("get", reverse("connectors:connector-catalogue")),
        ("get", reverse("connectors:connector-add", args=["openai"])),
        ("post", reverse("connectors:connector-add", args=["openai"])),
        ("get", reverse("connectors:connector-edit", args=[connector.pk])),
        ("post", reverse("connectors:connector-edit", args=[connector.pk])),
        ("get", reverse("connectors:connector-delete", args=[connector.pk])),
        ("post", reverse("connectors:connector-delete", args=[connector.pk])),
        ("post", reverse("connectors:connector-test", args=[connector.pk])),
        ("get", reverse("connectors:task-add", args=[connector.pk])),
        ("post", reverse("connectors:task-add", args=[connector.pk])),
        ("get", reverse("connectors:task-edit", args=[task.pk])),
        ("post", reverse("connectors:task-edit", args=[task.pk])),
        ("get", reverse("connectors:task-delete", args=[task.pk])),
        ("post", reverse("connectors:task-delete", args=[task.pk])),
    ]


def view_urls(connector, task) -> list[str]:
    return [
        reverse("connectors:connector-list"),
        reverse("connectors:connector-detail", args=[connector.pk]),
        reverse("connectors:task-detail", args=[task.pk]),
        reverse("connectors:task-parameters", args=[task.pk]),
    ]


def test_it_sends_anonymous_users_to_the_login_page(connector, task):
    client = Client()
    for url in view_urls(connector, task) + [u for _, u in manage_urls(connector, task)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login")), url


def test_it_forbids_viewers_every_change(viewer_client, connector, task):
    for method, url in manage_urls(connector, task):
        response = getattr(viewer_client, method)(url)
        assert response.status_code == 403, (method, url)
        assert b"Only Data administrators" in response.content
    connector.refresh_from_db()
    task.refresh_from_db()


def test_it_forbids_viewers_over_htmx_too(viewer_client, connector):
    url = reverse("connectors:connector-test", args=[connector.pk])
    response = viewer_client.post(url, headers={"HX-Request": "true"})
    assert response.status_code == 403


def test_it_lets_viewers_see_connectors_and_tasks_without_any_action(
    viewer_client, connector, task
):
    for url in view_urls(connector, task):
        assert viewer_client.get(url).status_code == 200, url
    detail = viewer_client.get(reverse("connectors:connector-detail", args=[connector.pk]))
    html = detail.content.decode()
    assert "Add Task" not in html
    assert "Test connection" not in html
    assert "ends in" not in html  # no key material at all, not even the hint
    listing = viewer_client.get(reverse("connectors:connector-list")).content.decode()
    assert "Add Connector" not in listing


def test_it_answers_404_for_missing_objects(staff_client):
    for name in ("connector-detail", "connector-edit", "connector-delete"):
        assert staff_client.get(reverse(f"connectors:{name}", args=[999999])).status_code == 404
    assert staff_client.get(reverse("connectors:task-detail", args=[999999])).status_code == 404
    assert staff_client.get(reverse("connectors:connector-add", args=["nope"])).status_code == 404


@pytest.mark.parametrize("name", ["connector-test"])
def test_it_refuses_get_on_post_only_actions(staff_client, connector, name):
    assert staff_client.get(reverse(f"connectors:{name}", args=[connector.pk])).status_code == 405
