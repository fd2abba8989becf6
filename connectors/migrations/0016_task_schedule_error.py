from django.db import migrations, models

import connectors.collection.schedule

TURNED_OFF = (
    "The schedule was turned off: its Start date lay outside the calendar the Data Hub "
    "can read (before the year 1 or after 9999, in UTC). Set a Start date between "
    "2020-01-01 and ten years ahead, then enable the schedule again."
)


def turn_off_unreadable_starts(apps, schema_editor):
    """A Start date Postgres holds but Python cannot read (0001-01-01 entered east of
    UTC, 9999-12-31 entered west of it) fails every query that loads its task: the Tasks
    page, the connector page, the beat tick. Such a schedule is turned off, with why.
    SQLite cannot store one (Django converts to UTC in Python first)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("connectors", "Task")._meta.db_table)
    schema_editor.execute(
        f"UPDATE {table} SET schedule_start = NULL, schedule_enabled = false, "  # noqa: S608
        "schedule_error = %s WHERE schedule_start < '0001-01-01T00:00:00+00:00' "
        "OR schedule_start >= '10000-01-01T00:00:00+00:00'",
        [TURNED_OFF],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("connectors", "0015_run_number"),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="schedule_error",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AlterField(
            model_name="task",
            name="schedule_start",
            field=models.DateTimeField(
                blank=True, null=True, validators=[connectors.collection.schedule.validate_start]
            ),
        ),
        migrations.RunPython(turn_off_unreadable_starts, migrations.RunPython.noop),
    ]
