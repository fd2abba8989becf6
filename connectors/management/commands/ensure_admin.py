from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


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
            user, created = users.get_or_create(username=username)
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
