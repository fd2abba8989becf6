from __future__ import annotations

from django.core.management.base import BaseCommand

from connectors.setup import services


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored admin key with the first key of DATAHUB_ENCRYPTION_KEY. "
        "To rotate: put the new key first (new,old), run this, then drop the old key."
    )

    def handle(self, *args, **options) -> None:
        count = services.connector_rotate_keys()
        self.stdout.write(f"Re-encrypted {count} admin key(s) with the newest encryption key.")
