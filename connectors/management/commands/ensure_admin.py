from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Make sure a Data administrator exists: DATAHUB_ADMIN_USER / DATAHUB_ADMIN_PASSWORD "
        "when set, else a first 'admin' with a one-time password printed once."
    )

    def handle(self, *args, **options) -> None:
        users = get_user_model().objects
        username = os.environ.get("DATAHUB_ADMIN_USER", "")
        password = os.environ.get("DATAHUB_ADMIN_PASSWORD", "")
        if username and password:
            user = users.filter(username=username).first() or users.model(username=username)
            _refuse_weak(password, user)
            user.is_staff = user.is_superuser = user.is_active = True
            user.set_password(password)
            user.save()
            self.stdout.write(f"Data administrator “{username}” is ready.")
            return
        if users.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser("admin", email="", password=password)
        self.stdout.write(
            self.style.WARNING(
                "Created the first Data administrator.\n"
                f"  username: admin\n  password: {password}\n"
                "This password is shown once: change it after logging in (/admin/password_change/)."
            )
        )


def _refuse_weak(password: str, user) -> None:
    """Stop with the validators' reasons (never the password) when they refuse it."""
    try:
        validate_password(password, user)
    except ValidationError as error:
        reasons = "\n".join(f"  - {message}" for message in error.messages)
        raise CommandError(
            f"DATAHUB_ADMIN_PASSWORD is refused for “{user.username}”; nothing was changed:\n"
            f"{reasons}\nChoose a stronger one (AUTH_PASSWORD_VALIDATORS) and start again."
        ) from None
