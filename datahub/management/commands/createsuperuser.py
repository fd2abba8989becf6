"""Django's `createsuperuser`, whose --noinput path also validates DJANGO_SUPERUSER_PASSWORD.

Django checks a typed password against AUTH_PASSWORD_VALIDATORS but sets the one from the
environment as it is; here that one is refused the same way, with the reasons.
"""

from __future__ import annotations

import os

from django.contrib.auth.management.commands import createsuperuser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError


class Command(createsuperuser.Command):
    def handle(self, *args, **options) -> None:
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if not options["interactive"] and password is not None:
            field = self.UserModel.USERNAME_FIELD
            username = options[field] or os.environ.get(f"DJANGO_SUPERUSER_{field.upper()}")
            try:
                validate_password(password, self.UserModel(**{field: username}))
            except ValidationError as error:
                raise CommandError(
                    "DJANGO_SUPERUSER_PASSWORD is refused: " + " ".join(error.messages)
                ) from None
        super().handle(*args, **options)
