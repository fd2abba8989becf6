"""The admin key against hostile users and bad input: it only ever goes to the address it
was checked at, a pasted key with a stray character gets a message (never a 500), and the
Django admin cannot change what the app checks."""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django.views.debug import technical_500_response

from connectors.collection import engine
from connectors.models import Connector, RunStatus, Task, TaskRun
from connectors.openai.emulator import DEMO_ADMIN_KEY
from connectors.setup import services


@dataclass
class OtherHost:
    """A server at another address that answers like the Admin API and notes every
    Authorization header it receives: a host that would gladly take a key."""

    base_url: str
    authorizations: list[str] = field(default_factory=list)


class _AcceptingHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.host.authorizations.append(self.headers.get("Authorization", ""))
        kind = "page" if "/costs" in self.path else "list"
        body = json.dumps({"object": kind, "data": [], "has_more": False}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def other_host():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AcceptingHandler)
    server.host = OtherHost(f"http://127.0.0.1:{server.server_address[1]}/v1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.host
    server.shutdown()
    server.server_close()


@pytest.fixture
def saved(db, emulator_server) -> Connector:
    """A connector whose key was checked at the emulator."""
    connector, error = services.connector_create(
        kind="openai",
        name="Acme",
        description="",
        base_url=emulator_server.base_url,
        admin_key=DEMO_ADMIN_KEY,
    )
    assert not error
    return connector


@pytest.fixture
def superuser_client(django_user_model) -> Client:
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123")
    client = Client()
    client.force_login(admin)
    return client


def edit(client: Client, connector: Connector, **changes: str):
    data = {"name": connector.name, "description": "", "admin_key": "", "base_url": ""}
    data |= {"base_url": connector.base_url} | changes
    return client.post(reverse("connectors:connector-edit", args=[connector.pk]), data)


# --- 1. the key only ever goes to the address it was checked at ------------------------


def test_it_never_sends_the_saved_key_to_a_new_base_url(
    staff_client, saved, other_host, emulator_server
):
    response = edit(staff_client, saved, name="Renamed", base_url=other_host.base_url)

    assert response.status_code == 200
    assert "enter the ADMIN KEY again" in response.content.decode()
    assert other_host.authorizations == []
    saved.refresh_from_db()
    assert saved.base_url == emulator_server.base_url
    assert saved.name == "Acme" and saved.admin_key == DEMO_ADMIN_KEY


def test_it_checks_a_key_typed_with_a_new_base_url_there(staff_client, saved, other_host):
    typed = "sk-admin-typed-for-the-new-host-0042"
    response = edit(staff_client, saved, admin_key=typed, base_url=other_host.base_url)

    assert response.status_code == 302
    assert other_host.authorizations == [f"Bearer {typed}"] * 2  # the two reads of the check
    saved.refresh_from_db()
    assert saved.base_url == other_host.base_url and saved.admin_key == typed


def test_it_keeps_the_saved_key_when_only_the_name_changes(staff_client, saved, emulator_server):
    emulator_server.emulator.log.clear()
    response = edit(staff_client, saved, name="Renamed", base_url=saved.base_url + "/")

    assert response.status_code == 302
    saved.refresh_from_db()
    assert saved.name == "Renamed" and saved.admin_key == DEMO_ADMIN_KEY
    assert emulator_server.emulator.log.records == []  # nothing to check: nothing sent


def test_the_django_admin_cannot_change_the_base_url(
    superuser_client, saved, other_host, emulator_server
):
    url = reverse("admin:connectors_connector_change", args=[saved.pk])
    data = {"name": "Renamed", "description": "", "base_url": other_host.base_url}
    assert superuser_client.post(url, data).status_code == 302

    saved.refresh_from_db()
    assert saved.name == "Renamed"  # the admin saved what it may change
    assert saved.base_url == emulator_server.base_url
    services.connector_test(saved)  # what the next run or re-check does
    assert other_host.authorizations == []


# --- 2. a pasted key with a character it cannot have ------------------------------------

ADD_URL = reverse("connectors:connector-add", args=["openai"])
END = len(DEMO_ADMIN_KEY) + 1  # the position of a character pasted after the key


def pasted(at: int, char: str) -> str:
    """The demo key with `char` inserted so that it is the key's character number `at`."""
    return DEMO_ADMIN_KEY[: at - 1] + char + DEMO_ADMIN_KEY[at - 1 :]


@pytest.mark.parametrize(
    ("key", "said"),
    [
        (
            pasted(END, "\u200b"),
            f"an invisible character (U+200B ZERO WIDTH SPACE) at position {END} "
            "(the last character)",
        ),
        (pasted(12, "\u2060"), "an invisible character (U+2060 WORD JOINER) at position 12"),
        (
            pasted(1, "\ufeff"),
            "an invisible character (U+FEFF ZERO WIDTH NO-BREAK SPACE) at position 1",
        ),
        (pasted(END, "\u00a0"), "a space-like character (U+00A0 NO-BREAK SPACE) at position"),
        (pasted(15, " "), "a space at position 15"),
        (pasted(15, "\t"), "a tab at position 15"),
        (pasted(15, "\r\n"), "a line break (U+000D) at position 15, and 1 more like it"),
        (pasted(20, "\x07"), "a control character (U+0007) at position 20"),
        (
            "sk-\u0430dmin-" + DEMO_ADMIN_KEY[9:],
            "a character that is not plain ASCII (U+0430 CYRILLIC SMALL LETTER A) at position 4",
        ),
        (pasted(9, "\u2013"), "a character that is not plain ASCII (U+2013 EN DASH) at position 9"),
    ],
)
def test_it_names_a_character_a_key_cannot_have_and_where_it_is(
    staff_client, emulator_server, key, said
):
    data = {"name": "Acme", "admin_key": key, "base_url": emulator_server.base_url}
    response = staff_client.post(ADD_URL, data)

    assert response.status_code == 200
    html = response.content.decode()
    assert f"The ADMIN KEY contains {said}" in html
    assert DEMO_ADMIN_KEY[9:21] not in html  # no part of the key is repeated
    assert not Connector.objects.exists()
    assert emulator_server.emulator.log.records == []  # refused before any request


def test_it_strips_plain_spaces_and_line_breaks_around_a_pasted_key(staff_client, emulator_server):
    data = {"name": "Acme", "admin_key": f" \t{DEMO_ADMIN_KEY} \r\n", "base_url": ""}
    data["base_url"] = emulator_server.base_url
    assert staff_client.post(ADD_URL, data).status_code == 302
    assert Connector.objects.get().admin_key == DEMO_ADMIN_KEY


def test_it_refuses_a_key_of_spaces_as_missing(staff_client, emulator_server):
    data = {"name": "Acme", "admin_key": "   ", "base_url": emulator_server.base_url}
    response = staff_client.post(ADD_URL, data)
    assert "This field is required." in response.content.decode()
    assert emulator_server.emulator.log.records == []


@pytest.fixture
def saved_before(connector) -> Connector:
    """A key with a zero-width space, saved before the form refused such keys."""
    connector.set_admin_key(DEMO_ADMIN_KEY + "\u200b")
    connector.save()
    return connector


def test_the_client_refuses_a_saved_key_it_cannot_send_in_words(saved_before, caplog):
    error = services.connector_test(saved_before)

    saved_before.refresh_from_db()
    assert saved_before.key_error == error
    assert error.startswith(
        f"The saved ADMIN KEY contains an invisible character (U+200B ZERO WIDTH SPACE) at "
        f"position {END} (the last character), so it cannot be sent."
    )
    assert DEMO_ADMIN_KEY not in error and DEMO_ADMIN_KEY not in caplog.text


def test_a_run_with_such_a_key_fails_with_the_reason(saved_before, task, caplog):
    run = TaskRun.objects.create(task=task, trigger="manual")
    engine.run_execute(run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "U+200B ZERO WIDTH SPACE" in run.error
    assert DEMO_ADMIN_KEY not in run.error + str(run.log) + caplog.text


# --- 3. the debug page (DEBUG=true) never shows the key ---------------------------------


@pytest.fixture
def refusing_writes(db):
    """The database refuses every write to the connectors table: an exception deep in the
    save, after the key was checked, while the key is in the variables of the frames the
    debug page lists. (The trigger goes with the test's transaction.)"""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for event in ("INSERT", "UPDATE"):
                cursor.execute(
                    f"CREATE TEMP TRIGGER refuse_{event.lower()} BEFORE {event} ON "
                    "connectors_connector BEGIN "
                    "SELECT RAISE(ABORT, 'the connectors table refuses writes'); END"
                )
            return
        cursor.execute(
            "CREATE FUNCTION pg_temp.refuse_write() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the connectors table refuses writes'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_write BEFORE INSERT OR UPDATE ON connectors_connector "
            "FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_write()"
        )


@pytest.mark.parametrize("page", ["add", "edit"])
def test_the_debug_page_never_shows_the_key(page, saved, emulator_server, user, refusing_writes):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    data = {"name": "Acme", "admin_key": DEMO_ADMIN_KEY, "base_url": emulator_server.base_url}
    url = reverse("connectors:connector-add", args=["openai"])
    if page == "edit":
        url = reverse("connectors:connector-edit", args=[saved.pk])

    with override_settings(DEBUG=True):
        response = client.post(url, data)

    assert response.status_code == 500
    html = response.content.decode()
    assert "the connectors table refuses writes" in html  # Django's technical page
    assert "Local vars" in html and "connector_" in html  # with the frames of our code
    assert "********************" in html  # what Django shows in place of a secret
    assert len(emulator_server.emulator.log.records) == 4  # the key was checked, twice
    assert DEMO_ADMIN_KEY not in html and DEMO_ADMIN_KEY[9:] not in html
    assert saved.admin_key_encrypted not in html


def _key_check_that_breaks(base_url: str):
    """The key check with a sleep between retries that fails: an exception from inside
    the check, caught in a frame that holds no key itself."""

    def sleep(seconds: float) -> None:
        raise RuntimeError("the retry's sleep broke")

    try:
        services.key_check(DEMO_ADMIN_KEY, base_url, sleep=sleep)
    except RuntimeError:
        return sys.exc_info()
    raise AssertionError("the check should have retried a 429")


def test_the_debug_page_of_an_error_inside_the_key_check_hides_the_key(emulator_server, rf):
    emulator_server.emulator.faults.fail_next("429")
    error = _key_check_that_breaks(emulator_server.base_url)

    with override_settings(DEBUG=True):
        html = technical_500_response(rf.get("/"), *error).content.decode()

    assert "the retry&#x27;s sleep broke" in html and "key_check" in html
    assert DEMO_ADMIN_KEY not in html and DEMO_ADMIN_KEY[9:] not in html


# --- 4. the Django admin cannot change what the app's forms check -----------------------


def test_the_django_admin_cannot_change_a_tasks_parameters_or_schedule(superuser_client, task):
    before = Task.objects.values().get(pk=task.pk)
    hostile = {
        "connector": task.connector_id,
        "name": "Renamed",
        "query_type": "costs",
        "parameters": json.dumps({"type": "completions", "completions-GroupBy": ["<b>"] * 500}),
        "schedule_enabled": "on",
        "schedule_start_0": "2026-01-01",
        "schedule_start_1": "00:00:00",
        "interval_unit": "cron",
        "interval_every": "1",
        "cron": "every blue moon",
        "queue_behaviour": "queue",
        "lookback_minutes": "",
    }
    url = reverse("admin:connectors_task_change", args=[task.pk])
    page = superuser_client.get(url).content.decode()
    assert "completions-GroupBy" in page  # shown, not offered as a field
    assert 'name="parameters"' not in page and 'name="cron"' not in page
    assert superuser_client.post(url, hostile).status_code == 302

    after = Task.objects.values().get(pk=task.pk)
    assert after["name"] == "Renamed"  # the admin saved what it may change
    unchanged = set(before) - {"name", "updated_at"}
    assert {f: after[f] for f in unchanged} == {f: before[f] for f in unchanged}
    assert superuser_client.get(reverse("admin:connectors_task_add")).status_code == 403
