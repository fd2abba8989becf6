from django.contrib import admin
from django.db import models

from connectors.models import Connector, Task


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    """The key is never shown here: only its hint. Keys are changed in the Data Hub UI."""

    list_display = ["name", "kind", "key_hint", "key_verified_at", "key_error"]
    fields = ["kind", "name", "description", "base_url"]
    readonly_fields = ["kind"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request) -> bool:
        return False  # a connector is only created through the key check


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["display_name", "connector", "query_type", "schedule_enabled"]
    list_filter = ["query_type", "schedule_enabled"]
