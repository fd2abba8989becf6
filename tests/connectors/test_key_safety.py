"""The admin key against hostile users and bad input: it only ever goes to the address it
was checked at, a pasted key with a stray character gets a message (never a 500), and the
Django admin cannot change what the app checks."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.urls import reverse

from connectors import services
from connectors.models import Connector
from connectors.openai.emulator import DEMO_ADMIN_KEY


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
