from __future__ import annotations

from django.apps import AppConfig


class DatahubConfig(AppConfig):
    """The project itself as an app: its system checks and its `createsuperuser`."""

    name = "datahub"
    verbose_name = "Data Hub"

    def ready(self) -> None:
        from datahub import checks  # noqa: F401  (registers them)
