"""The admin key is a secret: encrypted at rest, never in HTML, logs, exceptions or admin."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.views.debug import SafeExceptionReporterFilter

from connectors.collection import engine
from connectors.models import Connector, RunStatus, TaskRun
from connectors.openai.client import AdminClient, OpenAIError
from connectors.openai.emulator import DEMO_ADMIN_KEY
from connectors.setup import crypto, services, views

WRONG_KEY = "sk-admin-wrong-but-secret-key-0123456789"


@pytest.fixture
def saved(staff_client, emulator_server) -> Connector:
    data = {"name": "Acme", "admin_key": DEMO_ADMIN_KEY, "base_url": emulator_server.base_url}
    staff_client.post(reverse("connectors:connector-add", args=["openai"]), data)
    return Connector.objects.get()


def test_it_stores_the_key_encrypted(saved):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM connectors_connector")
        row = " ".join(str(value) for value in cursor.fetchone())
    assert DEMO_ADMIN_KEY not in row
    assert saved.admin_key == DEMO_ADMIN_KEY


def test_it_never_puts_the_key_in_any_page(staff_client, saved):
    user = staff_client
    pages = [
        reverse("connectors:connector-list"),
        reverse("connectors:connector-detail", args=[saved.pk]),
        reverse("connectors:connector-edit", args=[saved.pk]),
        reverse("connectors:connector-delete", args=[saved.pk]),
    ]
    for url in pages:
        html = user.get(url).content.decode()
        assert DEMO_ADMIN_KEY not in html, url
        assert saved.admin_key_encrypted not in html, url
    detail = user.get(pages[1]).content.decode()
    assert f"…{DEMO_ADMIN_KEY[-4:]}" in detail


def test_it_never_shows_the_key_in_the_django_admin(saved, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123")
    client = Client()
    client.force_login(admin)
    for url in (
        reverse("admin:connectors_connector_changelist"),
        reverse("admin:connectors_connector_change", args=[saved.pk]),
    ):
        html = client.get(url).content.decode()
        assert DEMO_ADMIN_KEY not in html and saved.admin_key_encrypted not in html


def test_it_never_writes_the_key_to_the_logs(staff_client, emulator_server, caplog):
    for logger in (None, "httpx", "httpcore", "django", "connectors"):
        caplog.set_level(logging.DEBUG, logger=logger)
    url = reverse("connectors:connector-add", args=["openai"])
    for key in (DEMO_ADMIN_KEY, WRONG_KEY):
        staff_client.post(
            url, {"name": "A", "admin_key": key, "base_url": emulator_server.base_url}
        )
    connector = Connector.objects.get()
    staff_client.post(reverse("connectors:connector-test", args=[connector.pk]))
    assert caplog.records, "the requests should have been logged at DEBUG"
    for key in (DEMO_ADMIN_KEY, WRONG_KEY):
        assert key not in caplog.text


def test_it_never_puts_the_key_in_an_error(emulator_server, closed_port_url, silent_server_url):
    cases = [
        (WRONG_KEY, emulator_server.base_url),
        (WRONG_KEY, closed_port_url),
        (WRONG_KEY, silent_server_url),
    ]
    for key, base_url in cases:
        with (
            AdminClient(key, base_url, timeout=0.5) as client,
            pytest.raises(OpenAIError) as caught,
        ):
            client.check_key()
        error = caught.value
        texts = [str(error), repr(error), str(error.__cause__), str(error.__context__)]
        assert not any(key in text for text in texts), base_url
        assert not any(key[-12:] in text for text in texts)


def test_it_hides_the_key_from_django_error_reports(user, closed_port_url):
    request = RequestFactory().post(
        "/connectors/add/openai/",
        {"name": "A", "admin_key": WRONG_KEY, "base_url": closed_port_url},
    )
    request.user, request.htmx = user, False
    request._dont_enforce_csrf_checks = True
    SessionMiddleware(lambda r: None).process_request(request)
    MessageMiddleware(lambda r: None).process_request(request)
    views.connector_add(request, "openai")
    reported = SafeExceptionReporterFilter().get_post_parameters(request)
    assert reported["admin_key"] != WRONG_KEY and reported["name"] == "A"


def test_it_rotates_the_encryption_key_without_losing_keys(saved):
    current = settings.DATAHUB_ENCRYPTION_KEY or settings.DATAHUB_ENCRYPTION_KEY_FILE.read_text()
    new_key = Fernet.generate_key().decode()
    try:
        with override_settings(DATAHUB_ENCRYPTION_KEY=f"{new_key},{current.strip()}"):
            crypto.reset_cache()
            assert services.connector_rotate_keys() == 1
        with override_settings(DATAHUB_ENCRYPTION_KEY=new_key):  # the old key is gone
            crypto.reset_cache()
            saved.refresh_from_db()
            assert saved.admin_key == DEMO_ADMIN_KEY
    finally:
        crypto.reset_cache()


def test_it_says_so_when_the_encryption_key_is_wrong(saved):
    try:
        with override_settings(DATAHUB_ENCRYPTION_KEY=Fernet.generate_key().decode()):
            crypto.reset_cache()
            with pytest.raises(crypto.SecretError, match="DATAHUB_ENCRYPTION_KEY"):
                saved.admin_key  # noqa: B018
    finally:
        crypto.reset_cache()


def test_it_never_puts_the_key_in_a_run_or_the_worker_log(task, emulator_server, caplog, settings):
    """A run whose key is refused, and one whose base URL cannot be reached: the run's
    error, its log and the worker's log say why, without the key."""
    settings.OPENAI_RETRY_BASE_SECONDS = 0.01
    caplog.set_level(logging.DEBUG)
    connector = task.connector
    connector.set_admin_key(WRONG_KEY)
    for base_url in (emulator_server.base_url, "http://127.0.0.1:9/v1"):
        connector.base_url = base_url
        connector.save()
        run = TaskRun.objects.create(task=task, trigger="manual")
        engine.run_execute(run.pk)
        run.refresh_from_db()
        assert run.status == RunStatus.FAILED and run.error
        said = run.error + " ".join(str(line) for line in run.log) + caplog.text
        assert WRONG_KEY not in said and WRONG_KEY[-12:] not in said
