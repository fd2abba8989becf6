"""Bad input gets a clear message, loses nothing, and never a 500 or a stack trace."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from connectors.models import Connector, Task

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_it_renders_html_in_names_and_descriptions_escaped(staff_client, connector):
    connector.name = XSS[:100]
    connector.description = XSS
    connector.save()
    Task.objects.create(connector=connector, name=XSS[:100], query_type="users", parameters={})
    for url in (
        reverse("connectors:connector-list"),
        reverse("connectors:connector-detail", args=[connector.pk]),
        reverse("connectors:connector-delete", args=[connector.pk]),
    ):
        html = staff_client.get(url).content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert" in html, url


def test_it_keeps_unicode_names(staff_client, connector):
    connector.name = "Zürich — 東京 🚀"
    connector.save()
    assert (
        "Zürich — 東京 🚀"
        in staff_client.get(reverse("connectors:connector-list")).content.decode()
    )


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": "x" * 10_000, "admin_key": "k" * 10_000, "base_url": "https://" + "a" * 5000},
        {"name": "ok", "admin_key": "sk-admin-a\nb", "base_url": "https://api.openai.com/v1"},
        {"name": "ok", "admin_key": "sk-admin-\x00", "base_url": "https://api.openai.com/v1"},
        {"name": "\x00", "admin_key": "sk-admin-x", "base_url": "http://[::1"},
    ],
)
def test_it_answers_bad_connector_forms_with_messages(staff_client, data):
    response = staff_client.post(reverse("connectors:connector-add", args=["openai"]), data)
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    assert not Connector.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"type": "x" * 5000},
        {"type": "completions", "completions-StartTime": "9" * 5000},
        {"type": "completions", "completions-StartTime": "2026-13-45"},
        {
            "type": "completions",
            "completions-StartTime": "2026-01-01",
            "completions-GroupBy": "<b>",
        },
        {"type": "completions", "completions-StartTime": "2026-01-01", "interval_every": "NaN"},
        {"type": "users", "schedule_enabled": "on", "schedule_start": "yesterday-ish"},
        {"type": "users", "users-Emails": "not-an-email, 東京@"},
    ],
)
def test_it_answers_bad_task_forms_with_messages(staff_client, connector, data):
    response = staff_client.post(reverse("connectors:task-add", args=[connector.pk]), data)
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    assert not Task.objects.exists()


def test_it_refuses_forged_posts_without_a_csrf_token(user, connector, task):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for url in (
        reverse("connectors:connector-add", args=["openai"]),
        reverse("connectors:connector-delete", args=[connector.pk]),
        reverse("connectors:task-delete", args=[task.pk]),
        reverse("connectors:connector-test", args=[connector.pk]),
    ):
        response = client.post(url, {"name": "x"})
        assert response.status_code == 403, url
        assert "This form has expired" in response.content.decode()
    assert Connector.objects.filter(pk=connector.pk).exists() and Task.objects.exists()


def test_it_shows_a_friendly_page_for_unknown_addresses(staff_client):
    response = staff_client.get("/no/such/page/")
    assert response.status_code == 404
    assert "There is nothing here" in response.content.decode()


def test_it_ignores_unknown_query_types_in_the_htmx_swap(staff_client, connector):
    url = reverse("connectors:task-add", args=[connector.pk])
    response = staff_client.get(url, {"type": "<script>"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Choose a QUERY TYPE to see its parameters." in response.content.decode()
