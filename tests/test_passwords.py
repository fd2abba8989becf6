"""Every password set must pass AUTH_PASSWORD_VALIDATORS: DATAHUB_ADMIN_PASSWORD at start,
`createsuperuser --noinput`, the admin site and the password change page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tests.fixtures_worker import database_url

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def admin_env(monkeypatch):
    def set_env(username: str, password: str) -> None:
        monkeypatch.setenv("DATAHUB_ADMIN_USER", username)
        monkeypatch.setenv("DATAHUB_ADMIN_PASSWORD", password)

    return set_env


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password123", "This password is too common."),
        ("k9#Tq2", "This password is too short. It must contain at least 10 characters."),
        ("5820193746", "This password is entirely numeric."),
        ("margaret.h!", "The password is too similar to the username."),
    ],
)
def test_it_refuses_a_weak_datahub_admin_password_and_says_why(admin_env, password, reason):
    admin_env("margaret.h", password)
    with pytest.raises(CommandError) as refused:
        call_command("ensure_admin")
    message = str(refused.value)
    assert "DATAHUB_ADMIN_PASSWORD is refused" in message
    assert reason in message
    assert password not in message
    assert not User.objects.filter(username="margaret.h").exists()


def test_it_keeps_the_existing_password_when_the_new_one_is_refused(admin_env):
    User.objects.create_superuser("margaret.h", password="old-but-long-enough-7")
    admin_env("margaret.h", "password123")
    with pytest.raises(CommandError):
        call_command("ensure_admin")
    assert User.objects.get(username="margaret.h").check_password("old-but-long-enough-7")


def test_it_accepts_a_strong_datahub_admin_password(admin_env):
    admin_env("margaret.h", "correct horse battery staple")
    call_command("ensure_admin")
    user = User.objects.get(username="margaret.h")
    assert user.is_superuser and user.check_password("correct horse battery staple")


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    env = os.environ | env | {"DATABASE_URL": database_url()}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


@pytest.mark.django_db(transaction=True)
def test_it_stops_at_start_with_the_reason_and_without_the_password():
    result = _manage(
        "ensure_admin", DATAHUB_ADMIN_USER="margaret.h", DATAHUB_ADMIN_PASSWORD="password123"
    )
    assert result.returncode == 1
    assert "DATAHUB_ADMIN_PASSWORD is refused" in result.stderr
    assert "This password is too common." in result.stderr
    assert "password123" not in result.stderr + result.stdout
    assert not User.objects.filter(username="margaret.h").exists()


def test_it_refuses_a_weak_django_superuser_password(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "5820193746")
    with pytest.raises(CommandError, match="This password is entirely numeric."):
        call_command("createsuperuser", "--noinput", username="root.user", email="")
    assert not User.objects.filter(username="root.user").exists()


def test_it_refuses_a_weak_password_on_the_admin_sites_password_form(user):
    superuser = User.objects.create_superuser("root.user", password="long-enough-secret-1")
    client = Client()
    client.force_login(superuser)
    url = f"/admin/auth/user/{user.pk}/password/"
    response = client.post(url, {"password1": "5820193746", "password2": "5820193746"})
    assert response.status_code == 200
    assert "This password is entirely numeric." in response.content.decode()
    user.refresh_from_db()
    assert user.check_password("pw-ada-123")


def test_it_refuses_a_weak_password_on_the_password_change_page(user, staff_client):
    response = staff_client.post(
        "/admin/password_change/",
        {"old_password": "pw-ada-123", "new_password1": "ada-pw-99", "new_password2": "ada-pw-99"},
    )
    assert response.status_code == 200
    assert "This password is too short." in response.content.decode()
    user.refresh_from_db()
    assert user.check_password("pw-ada-123")
