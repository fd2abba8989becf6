"""The Django admin answers bad input with a 400, never a server error."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def superuser_client(django_user_model) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(
        django_user_model.objects.create_superuser("root-admin", password="pw-root-admin-123")
    )
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["change", "delete"])
def test_an_empty_to_field_is_a_bad_request(superuser_client, connector, task, action):
    pages = [
        f"/admin/connectors/connector/{connector.pk}/{action}/",
        f"/admin/connectors/task/{task.pk}/{action}/",
        f"/admin/auth/user/{superuser_client.session['_auth_user_id']}/{action}/",
    ]
    for page in pages:
        assert superuser_client.get(page).status_code == 200
        assert superuser_client.get(page, {"_to_field": ""}).status_code == 400
        assert superuser_client.post(page, {"_to_field": ""}).status_code == 400


@pytest.mark.django_db
def test_a_named_to_field_still_works(superuser_client, connector):
    page = f"/admin/connectors/connector/{connector.pk}/change/"
    assert superuser_client.get(page, {"_to_field": "id"}).status_code == 200
