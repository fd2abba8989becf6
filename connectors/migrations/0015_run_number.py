from django.db import migrations, models


def number_existing_runs(apps, schema_editor):
    """Number each task's runs 1, 2, ... in the order they were queued."""
    TaskRun = apps.get_model("connectors", "TaskRun")
    counters: dict[int, int] = {}
    changed = []
    for run in TaskRun.objects.order_by("task_id", "queued_at", "id").only("id", "task_id"):
        counters[run.task_id] = counters.get(run.task_id, 0) + 1
        run.number = counters[run.task_id]
        changed.append(run)
    TaskRun.objects.bulk_update(changed, ["number"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("connectors", "0014_run_lease")]

    operations = [
        migrations.AddField(
            model_name="taskrun",
            name="number",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(number_existing_runs, migrations.RunPython.noop),
    ]
