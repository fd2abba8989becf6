from django.contrib import admin

from connectors.models import Connector, Task


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    """The key is never shown here: only its hint. The key and the base URL are changed
    in the Data Hub UI only, where a new base URL needs the key typed again and checked
    there: an address saved here unchecked would receive the key on the next run."""

    list_display = ["name", "kind", "key_hint", "key_verified_at", "key_error"]
    fields = ["kind", "name", "description", "base_url", "key_hint"]
    readonly_fields = ["kind", "base_url", "key_hint"]

    def has_add_permission(self, request) -> bool:
        return False  # a connector is only created through the key check


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["display_name", "connector", "query_type", "schedule_enabled"]
    list_filter = ["query_type", "schedule_enabled"]
