from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("connectors", "0013_api_2026")]

    operations = [
        migrations.AddField(
            model_name="taskrun",
            name="streams",
            field=models.JSONField(default=dict),
        ),
        migrations.AddField(
            model_name="taskrun",
            name="lease",
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name="taskrun",
            name="sent_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="taskrun",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("succeeded", "Succeeded"),
                    ("partial", "Partly succeeded"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                ],
                db_index=True,
                default="queued",
                max_length=10,
            ),
        ),
    ]
