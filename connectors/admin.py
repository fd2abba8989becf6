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
    """Tasks are created and changed in the Data Hub, whose forms check the parameters
    and the schedule: here they are read-only. The name and the lookback (an operator's
    setting with no form in the app) can be changed; a task can be deleted."""

    list_display = ["display_name", "connector", "query_type", "schedule_enabled"]
    list_filter = ["query_type", "schedule_enabled"]
    checked_in_the_app = [
        "connector",
        "query_type",
        "parameters",
        "schedule_enabled",
        "schedule_start",
        "interval_unit",
        "interval_every",
        "cron",
        "queue_behaviour",
    ]
    fields = ["name", *checked_in_the_app, "lookback_minutes"]
    readonly_fields = checked_in_the_app

    def has_add_permission(self, request) -> bool:
        return False  # a task is only created through the app's form
