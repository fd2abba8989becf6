"""Deployment settings: HTTPS behind a proxy from the environment, off for the local run;
`manage.py check --deploy` clean with the production block of .env.example; a loud
warning when the shipped SECRET_KEY is used with DEBUG off."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_KEY = "datahub-development-only-secret-key-change-me"  # .env.example's, once
SETTING_NAMES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_COOKIES",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "TRUSTED_PROXY_COUNT",
)


def production_block() -> dict[str, str]:
    """The `#   NAME=value` lines of .env.example's production block, a real key put in."""
    text = (ROOT / ".env.example").read_text()
    block = text[text.index("# Production behind an HTTPS reverse proxy") :]
    env = {}
    for line in block.splitlines():
        if line.startswith("#   ") and "=" in line:
            name, value = line[4:].split("=", 1)
            env[name] = value
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    return env


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """A command of the Data Hub with only the given settings (and the embedded default)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in SETTING_NAMES
        # tests/conftest.py allows the ORM in Playwright's event loop: not a deployment's
        and k not in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    base |= {"DATAHUB_VAR_DIR": str(tmp_path)} | env
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_the_local_run_serves_plain_http():
    assert not settings.SECURE_SSL_REDIRECT
    assert settings.SECURE_HSTS_SECONDS == 0
    assert not settings.SESSION_COOKIE_SECURE and not settings.CSRF_COOKIE_SECURE
    assert not hasattr(settings, "SECURE_PROXY_SSL_HEADER") or (
        settings.SECURE_PROXY_SSL_HEADER is None
    )


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    env = production_block()
    assert {"SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_COOKIES"} <= env.keys()
    result = run(["manage.py", "check", "--deploy"], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stderr and "ERRORS" not in result.stderr


def test_check_deploy_is_not_clean_with_the_local_defaults(tmp_path):
    result = run(["manage.py", "check", "--deploy"], tmp_path, SECRET_KEY=SHIPPED_KEY)
    assert "security.W004" in result.stderr  # no HSTS
    assert "datahub.W001" in result.stderr  # the shipped SECRET_KEY


def test_without_a_secret_key_the_installation_makes_its_own(tmp_path):
    """`make run` with nothing set: a key of this installation, kept, private, no warning."""
    script = (
        "import django; django.setup(); from django.conf import settings as s; print(s.SECRET_KEY)"
    )
    env = {"DJANGO_SETTINGS_MODULE": "datahub.settings", "DEBUG": "false"}
    first = run(["-c", script], tmp_path, **env)
    again = run(["-c", script], tmp_path, **env)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert len(key) >= 50 and key not in settings.DEVELOPMENT_SECRET_KEYS
    assert again.stdout.strip() == key  # kept across starts: sessions survive a restart
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert run(["-c", script], tmp_path / "elsewhere", **env).stdout.strip() != key
    check = run(["manage.py", "check"], tmp_path, DEBUG="false")
    assert check.returncode == 0 and "datahub.W001" not in check.stderr


def test_the_environment_sets_https_behind_a_proxy(tmp_path):
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_PROXY_SSL_HEADER, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.TRUSTED_PROXY_COUNT)"
    )
    env = production_block() | {"DJANGO_SETTINGS_MODULE": "datahub.settings"}
    result = run(["-c", script], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == (
        "('HTTP_X_FORWARDED_PROTO', 'https') True 31536000 True True True True 1"
    )


@pytest.mark.django_db
@override_settings(
    SECURE_SSL_REDIRECT=True,
    SECURE_HSTS_SECONDS=3600,
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
)
def test_behind_the_proxy_https_is_kept_and_plain_http_redirected():
    client = Client()
    plain = client.get("/login/")
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://testserver/login/"
    secure = client.get("/login/", headers={"X-Forwarded-Proto": "https"})
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"] == "max-age=3600"


def test_manage_py_check_warns_of_the_shipped_secret_key_with_debug_off(tmp_path):
    result = run(["manage.py", "check"], tmp_path, DEBUG="false", SECRET_KEY=SHIPPED_KEY)
    assert result.returncode == 0
    assert "datahub.W001" in result.stderr
    assert "SECRET_KEY is the development default" in result.stderr


@pytest.mark.parametrize(
    "env", [{"DEBUG": "true"}, {"DEBUG": "false", "SECRET_KEY": "a-key-of-this-site-only-" * 3}]
)
def test_manage_py_check_is_quiet_in_development_or_with_a_key_of_its_own(tmp_path, env):
    result = run(["manage.py", "check"], tmp_path, **env)
    assert result.returncode == 0
    assert "datahub.W001" not in result.stderr


def test_the_web_server_start_says_so_on_stderr(tmp_path):
    # gunicorn (and `make run`, which starts it) imports datahub.wsgi in each worker.
    result = run(["-c", "import datahub.wsgi"], tmp_path, DEBUG="false", SECRET_KEY=SHIPPED_KEY)
    assert result.returncode == 0, result.stderr
    assert "ERROR datahub SECRET_KEY is the development default" in result.stderr
    quiet = run(["-c", "import datahub.wsgi"], tmp_path, SECRET_KEY="a-key-of-this-site-only-" * 3)
    assert "SECRET_KEY is the development default" not in quiet.stderr


def test_the_shipped_settings_hold_no_secret_key_so_each_installation_makes_its_own(tmp_path):
    example = (ROOT / ".env.example").read_text().splitlines()
    assert "SECRET_KEY=" in example  # empty
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "SECRET_KEY: ${SECRET_KEY:-}\n" in compose
    script = (
        "import django; django.setup(); from django.conf import settings as s; print(s.SECRET_KEY)"
    )
    env = {"DJANGO_SETTINGS_MODULE": "datahub.settings", "DEBUG": "false", "SECRET_KEY": ""}
    made = run(["-c", script], tmp_path, **env)  # an empty SECRET_KEY, as compose passes it
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert len(key) >= 50 and key not in settings.DEVELOPMENT_SECRET_KEYS
    assert (tmp_path / "secret.key").read_text().strip() == key
