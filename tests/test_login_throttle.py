"""Sign-in throttling: after LOGIN_FAILURE_LIMIT failed sign-ins for a username or from an
address, the login form refuses that username or address for LOGIN_LOCKOUT_MINUTES and
says so in words; X-Forwarded-For is believed only as far as TRUSTED_PROXY_COUNT says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.db.models import F
from django.test import Client, override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed sign-ins; try again in 15 minutes."


def sign_in(client: Client, username: str, password: str, **meta) -> object:
    return client.post(reverse("login"), {"username": username, "password": password}, **meta)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_it_reads_the_limit_and_lockout_from_the_defaults():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME


def test_it_locks_a_username_out_even_with_the_right_password(user):
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        response = sign_in(client, "ada", "wrong", REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert response.status_code in (200, 429)
    response = sign_in(client, "ada", "pw-ada-123", REMOTE_ADDR="198.51.100.99")
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert b'name="username"' in response.content  # the form is still there
    assert not signed_in(client)


def test_it_counts_failures_below_the_limit_and_a_success_clears_them(user):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in(client, "ada", "wrong")
        assert response.status_code == 200
        assert "didn't match" in response.content.decode()
    assert sign_in(client, "ada", "pw-ada-123").status_code == 302
    assert signed_in(client)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "ada", "wrong")
    assert sign_in(client, "ada", "pw-ada-123").status_code == 302


def test_it_locks_an_address_out_across_usernames(user):
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"guess{n}", "wrong", REMOTE_ADDR="203.0.113.7")
    response = sign_in(client, "ada", "pw-ada-123", REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert not signed_in(client)
    # Another address may still sign in as ada: her username has no failures.
    assert sign_in(Client(), "ada", "pw-ada-123", REMOTE_ADDR="203.0.113.8").status_code == 302


def test_it_ignores_x_forwarded_for_when_no_proxy_is_trusted(user):
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"guess{n}", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}")
    # A made-up X-Forwarded-For does not make the same peer a new address.
    response = sign_in(client, "ada", "pw-ada-123", HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert response.status_code == 429
    assert not signed_in(client)


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_it_reads_the_address_the_trusted_proxy_saw(user):
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        # The client's own X-Forwarded-For entry (left) is ignored; the proxy's is used.
        sign_in(client, f"guess{n}", "wrong", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 192.0.2.9", **proxy)
    locked = sign_in(client, "ada", "pw-ada-123", HTTP_X_FORWARDED_FOR="192.0.2.9", **proxy)
    assert locked.status_code == 429
    other = Client()
    response = sign_in(other, "ada", "pw-ada-123", HTTP_X_FORWARDED_FOR="192.0.2.10", **proxy)
    assert response.status_code == 302
    assert signed_in(other)


@override_settings(AXES_FAILURE_LIMIT=2, AXES_COOLOFF_TIME=timedelta(minutes=1))
def test_it_lets_the_username_in_again_once_the_lockout_has_passed(user):
    client = Client()
    sign_in(client, "ada", "wrong")
    sign_in(client, "ada", "wrong")
    response = sign_in(client, "ada", "pw-ada-123")
    assert response.status_code == 429
    assert "Too many failed sign-ins; try again in 1 minute." in response.content.decode()
    # A minute and more passes.
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=2)
    )
    assert sign_in(client, "ada", "pw-ada-123").status_code == 302
    assert signed_in(client)


def test_an_administrator_can_lift_a_lockout_early(user):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "ada", "wrong", REMOTE_ADDR="198.51.100.1")
    assert sign_in(client, "ada", "pw-ada-123", REMOTE_ADDR="198.51.100.2").status_code == 429
    call_command("axes_reset_username", "ada")  # as .env.example says
    assert sign_in(client, "ada", "pw-ada-123", REMOTE_ADDR="198.51.100.2").status_code == 302


def earlier(seconds: int) -> None:
    """As if `seconds` had passed: every recorded failure moved that far back."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(seconds=seconds))


@override_settings(AXES_FAILURE_LIMIT=2, AXES_COOLOFF_TIME=timedelta(minutes=1))
def test_attempts_during_a_lockout_do_not_make_it_last_longer(user):
    client = Client()
    sign_in(client, "ada", "wrong")
    sign_in(client, "ada", "wrong")
    earlier(50)
    assert sign_in(client, "ada", "wrong").status_code == 429  # 50 s into the lockout
    earlier(20)  # the lockout began 70 s ago, the last attempt was 20 s ago
    assert sign_in(client, "ada", "pw-ada-123").status_code == 302
    assert signed_in(client)


@pytest.mark.parametrize("page", ["login", "admin:login"])
def test_a_username_longer_than_any_is_refused_in_words_and_counted(user, page):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(reverse(page), {"username": "a" * 300, "password": "wrong"})
        assert response.status_code in (200, 429)  # the last one locks
        assert 'name="username"' in response.content.decode()
    assert not signed_in(client)
    assert sign_in(client, "ada", "pw-ada-123").status_code == 429  # the address is locked
