"""The 2026 API additions: the decisions table (and its rollups), api_source, costs
user_id, the cache writes by retention, API key expiry and the newer user fields."""

import django.db.models.deletion
import django.db.models.functions.comparison
from django.db import migrations, models


class AddIndexOnPostgres(migrations.AddIndex):
    """The per-day metric indexes are written in Postgres's SQL (`timezone()`), as in
    0007; the embedded SQLite database sorts its few rows without them."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("connectors", "0012_row_key_pairs"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikeyentry",
            name="expires_at",
            field=models.DateTimeField(blank=True, db_column="expiresAt", null=True),
        ),
        migrations.AddField(
            model_name="completions",
            name="apiSource",
            field=models.TextField(blank=True, db_column="apiSource", null=True),
        ),
        migrations.AddField(
            model_name="completions",
            name="inputCacheWrite12hTokens",
            field=models.BigIntegerField(
                blank=True, db_column="inputCacheWrite12hTokens", null=True
            ),
        ),
        migrations.AddField(
            model_name="completions",
            name="inputCacheWrite30mTokens",
            field=models.BigIntegerField(
                blank=True, db_column="inputCacheWrite30mTokens", null=True
            ),
        ),
        migrations.AddField(
            model_name="completionsdaily",
            name="apiSource",
            field=models.TextField(blank=True, db_column="apiSource", null=True),
        ),
        migrations.AddField(
            model_name="completionsdaily",
            name="inputCacheWrite12hTokens",
            field=models.BigIntegerField(
                blank=True, db_column="inputCacheWrite12hTokens", null=True
            ),
        ),
        migrations.AddField(
            model_name="completionsdaily",
            name="inputCacheWrite30mTokens",
            field=models.BigIntegerField(
                blank=True, db_column="inputCacheWrite30mTokens", null=True
            ),
        ),
        migrations.AddField(
            model_name="completionsdailyby",
            name="apiSource",
            field=models.TextField(blank=True, db_column="apiSource", null=True),
        ),
        migrations.AddField(
            model_name="completionsdailyby",
            name="inputCacheWrite12hTokens",
            field=models.BigIntegerField(
                blank=True, db_column="inputCacheWrite12hTokens", null=True
            ),
        ),
        migrations.AddField(
            model_name="completionsdailyby",
            name="inputCacheWrite30mTokens",
            field=models.BigIntegerField(
                blank=True, db_column="inputCacheWrite30mTokens", null=True
            ),
        ),
        migrations.AddField(
            model_name="costs",
            name="apiSource",
            field=models.TextField(blank=True, db_column="apiSource", null=True),
        ),
        migrations.AddField(
            model_name="costs",
            name="userId",
            field=models.TextField(blank=True, db_column="userId", null=True),
        ),
        migrations.AddField(
            model_name="userentry",
            name="api_key_last_used_at",
            field=models.DateTimeField(blank=True, db_column="apiKeyLastUsedAt", null=True),
        ),
        migrations.AddField(
            model_name="userentry",
            name="is_service_account",
            field=models.BooleanField(blank=True, db_column="isServiceAccount", null=True),
        ),
        migrations.AddField(
            model_name="userentry",
            name="projects",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="websearchcalls",
            name="apiSource",
            field=models.TextField(blank=True, db_column="apiSource", null=True),
        ),
        migrations.AddField(
            model_name="websearchcallsdaily",
            name="apiSource",
            field=models.TextField(blank=True, db_column="apiSource", null=True),
        ),
        migrations.AddField(
            model_name="websearchcallsdailyby",
            name="apiSource",
            field=models.TextField(blank=True, db_column="apiSource", null=True),
        ),
        migrations.AlterField(
            model_name="task",
            name="query_type",
            field=models.CharField(
                choices=[
                    ("audio_speeches", "audio_speeches"),
                    ("audio_transcriptions", "audio_transcriptions"),
                    ("code_interpreter_sessions", "code_interpreter_sessions"),
                    ("completions", "completions"),
                    ("costs", "costs"),
                    ("embeddings", "embeddings"),
                    ("images", "images"),
                    ("moderations", "moderations"),
                    ("vectorstores", "vectorstores"),
                    ("file_search_calls", "file_search_calls"),
                    ("web_search_calls", "web_search_calls"),
                    ("decisions", "decisions"),
                    ("projects", "projects"),
                    ("users", "users"),
                    ("api_keys", "api_keys"),
                    ("all", "all"),
                    ("generic", "generic"),
                ],
                max_length=40,
            ),
        ),
        migrations.CreateModel(
            name="Decisions",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("start_time", models.DateTimeField(db_column="startTime")),
                ("end_time", models.DateTimeField(db_column="endTime")),
                ("bucket_width", models.CharField(db_column="bucketWidth", max_length=2)),
                ("row_key", models.UUIDField(db_column="rowKey")),
                ("object", models.CharField(max_length=80)),
                ("first_fetched_at", models.DateTimeField(db_column="firstFetchedAt")),
                ("last_fetched_at", models.DateTimeField(db_column="lastFetchedAt")),
                ("last_changed_at", models.DateTimeField(db_column="lastChangedAt")),
                ("provisional", models.BooleanField(default=False)),
                ("extra", models.JSONField(blank=True, null=True)),
                ("projectId", models.TextField(blank=True, db_column="projectId", null=True)),
                ("userId", models.TextField(blank=True, db_column="userId", null=True)),
                ("apiKeyId", models.TextField(blank=True, db_column="apiKeyId", null=True)),
                ("model", models.TextField(blank=True, db_column="model", null=True)),
                ("batch", models.BooleanField(blank=True, db_column="batch", null=True)),
                ("serviceTier", models.TextField(blank=True, db_column="serviceTier", null=True)),
                ("apiSource", models.TextField(blank=True, db_column="apiSource", null=True)),
                (
                    "inputTokens",
                    models.BigIntegerField(blank=True, db_column="inputTokens", null=True),
                ),
                (
                    "outputTokens",
                    models.BigIntegerField(blank=True, db_column="outputTokens", null=True),
                ),
                (
                    "inputCachedTokens",
                    models.BigIntegerField(blank=True, db_column="inputCachedTokens", null=True),
                ),
                (
                    "inputAudioTokens",
                    models.BigIntegerField(blank=True, db_column="inputAudioTokens", null=True),
                ),
                (
                    "outputAudioTokens",
                    models.BigIntegerField(blank=True, db_column="outputAudioTokens", null=True),
                ),
                (
                    "numModelRequests",
                    models.BigIntegerField(blank=True, db_column="numModelRequests", null=True),
                ),
                (
                    "inputCacheWriteTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCacheWriteTokens", null=True
                    ),
                ),
                (
                    "inputUncachedTokens",
                    models.BigIntegerField(blank=True, db_column="inputUncachedTokens", null=True),
                ),
                (
                    "inputTextTokens",
                    models.BigIntegerField(blank=True, db_column="inputTextTokens", null=True),
                ),
                (
                    "outputTextTokens",
                    models.BigIntegerField(blank=True, db_column="outputTextTokens", null=True),
                ),
                (
                    "inputCachedTextTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCachedTextTokens", null=True
                    ),
                ),
                (
                    "inputCachedAudioTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCachedAudioTokens", null=True
                    ),
                ),
                (
                    "inputImageTokens",
                    models.BigIntegerField(blank=True, db_column="inputImageTokens", null=True),
                ),
                (
                    "inputCachedImageTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCachedImageTokens", null=True
                    ),
                ),
                (
                    "outputImageTokens",
                    models.BigIntegerField(blank=True, db_column="outputImageTokens", null=True),
                ),
                (
                    "inputCacheWrite30mTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCacheWrite30mTokens", null=True
                    ),
                ),
                (
                    "inputCacheWrite12hTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCacheWrite12hTokens", null=True
                    ),
                ),
                (
                    "connector",
                    models.ForeignKey(
                        db_column="connectorId",
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="connectors.connector",
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        db_column="taskId",
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="connectors.task",
                    ),
                ),
            ],
            options={
                "db_table": "decisions",
                "indexes": [
                    models.Index(fields=["connector", "start_time"], name="decisions_conn_time"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("task", "bucket_width", "start_time", "row_key"),
                        name="decisions_natural_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="DecisionsDaily",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("bucket_width", models.CharField(db_column="bucketWidth", max_length=2)),
                ("row_key", models.UUIDField(db_column="rowKey")),
                ("row_count", models.PositiveIntegerField(db_column="rowCount")),
                ("provisional_rows", models.PositiveIntegerField(db_column="provisionalRows")),
                (
                    "last_fetched_at",
                    models.DateTimeField(blank=True, db_column="lastFetchedAt", null=True),
                ),
                ("projectId", models.TextField(blank=True, db_column="projectId", null=True)),
                ("userId", models.TextField(blank=True, db_column="userId", null=True)),
                ("apiKeyId", models.TextField(blank=True, db_column="apiKeyId", null=True)),
                ("model", models.TextField(blank=True, db_column="model", null=True)),
                ("batch", models.BooleanField(blank=True, db_column="batch", null=True)),
                ("serviceTier", models.TextField(blank=True, db_column="serviceTier", null=True)),
                ("apiSource", models.TextField(blank=True, db_column="apiSource", null=True)),
                (
                    "inputTokens",
                    models.BigIntegerField(blank=True, db_column="inputTokens", null=True),
                ),
                (
                    "outputTokens",
                    models.BigIntegerField(blank=True, db_column="outputTokens", null=True),
                ),
                (
                    "inputCachedTokens",
                    models.BigIntegerField(blank=True, db_column="inputCachedTokens", null=True),
                ),
                (
                    "inputAudioTokens",
                    models.BigIntegerField(blank=True, db_column="inputAudioTokens", null=True),
                ),
                (
                    "outputAudioTokens",
                    models.BigIntegerField(blank=True, db_column="outputAudioTokens", null=True),
                ),
                (
                    "numModelRequests",
                    models.BigIntegerField(blank=True, db_column="numModelRequests", null=True),
                ),
                (
                    "inputCacheWriteTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCacheWriteTokens", null=True
                    ),
                ),
                (
                    "inputUncachedTokens",
                    models.BigIntegerField(blank=True, db_column="inputUncachedTokens", null=True),
                ),
                (
                    "inputTextTokens",
                    models.BigIntegerField(blank=True, db_column="inputTextTokens", null=True),
                ),
                (
                    "outputTextTokens",
                    models.BigIntegerField(blank=True, db_column="outputTextTokens", null=True),
                ),
                (
                    "inputCachedTextTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCachedTextTokens", null=True
                    ),
                ),
                (
                    "inputCachedAudioTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCachedAudioTokens", null=True
                    ),
                ),
                (
                    "inputImageTokens",
                    models.BigIntegerField(blank=True, db_column="inputImageTokens", null=True),
                ),
                (
                    "inputCachedImageTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCachedImageTokens", null=True
                    ),
                ),
                (
                    "outputImageTokens",
                    models.BigIntegerField(blank=True, db_column="outputImageTokens", null=True),
                ),
                (
                    "inputCacheWrite30mTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCacheWrite30mTokens", null=True
                    ),
                ),
                (
                    "inputCacheWrite12hTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCacheWrite12hTokens", null=True
                    ),
                ),
                (
                    "connector",
                    models.ForeignKey(
                        db_column="connectorId",
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="connectors.connector",
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        db_column="taskId",
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="connectors.task",
                    ),
                ),
            ],
            options={
                "db_table": "decisionsDaily",
                "indexes": [
                    models.Index(fields=["connector", "day"], name="decisionsdaily_conn_day"),
                    models.Index(
                        fields=["connector", "projectId", "day"], name="decisionsdaily_proj"
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("task", "bucket_width", "day", "row_key"),
                        name="decisionsdaily_natural_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="DecisionsDailyBy",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("bucket_width", models.CharField(db_column="bucketWidth", max_length=2)),
                ("dimension", models.CharField(max_length=40)),
                ("row_count", models.BigIntegerField(db_column="rowCount")),
                ("provisional_rows", models.BigIntegerField(db_column="provisionalRows")),
                (
                    "last_fetched_at",
                    models.DateTimeField(blank=True, db_column="lastFetchedAt", null=True),
                ),
                ("projectId", models.TextField(blank=True, db_column="projectId", null=True)),
                ("userId", models.TextField(blank=True, db_column="userId", null=True)),
                ("apiKeyId", models.TextField(blank=True, db_column="apiKeyId", null=True)),
                ("model", models.TextField(blank=True, db_column="model", null=True)),
                ("serviceTier", models.TextField(blank=True, db_column="serviceTier", null=True)),
                ("apiSource", models.TextField(blank=True, db_column="apiSource", null=True)),
                (
                    "inputTokens",
                    models.BigIntegerField(blank=True, db_column="inputTokens", null=True),
                ),
                (
                    "outputTokens",
                    models.BigIntegerField(blank=True, db_column="outputTokens", null=True),
                ),
                (
                    "inputCachedTokens",
                    models.BigIntegerField(blank=True, db_column="inputCachedTokens", null=True),
                ),
                (
                    "inputAudioTokens",
                    models.BigIntegerField(blank=True, db_column="inputAudioTokens", null=True),
                ),
                (
                    "outputAudioTokens",
                    models.BigIntegerField(blank=True, db_column="outputAudioTokens", null=True),
                ),
                (
                    "numModelRequests",
                    models.BigIntegerField(blank=True, db_column="numModelRequests", null=True),
                ),
                (
                    "inputCacheWriteTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCacheWriteTokens", null=True
                    ),
                ),
                (
                    "inputUncachedTokens",
                    models.BigIntegerField(blank=True, db_column="inputUncachedTokens", null=True),
                ),
                (
                    "inputTextTokens",
                    models.BigIntegerField(blank=True, db_column="inputTextTokens", null=True),
                ),
                (
                    "outputTextTokens",
                    models.BigIntegerField(blank=True, db_column="outputTextTokens", null=True),
                ),
                (
                    "inputCachedTextTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCachedTextTokens", null=True
                    ),
                ),
                (
                    "inputCachedAudioTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCachedAudioTokens", null=True
                    ),
                ),
                (
                    "inputImageTokens",
                    models.BigIntegerField(blank=True, db_column="inputImageTokens", null=True),
                ),
                (
                    "inputCachedImageTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCachedImageTokens", null=True
                    ),
                ),
                (
                    "outputImageTokens",
                    models.BigIntegerField(blank=True, db_column="outputImageTokens", null=True),
                ),
                (
                    "inputCacheWrite30mTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCacheWrite30mTokens", null=True
                    ),
                ),
                (
                    "inputCacheWrite12hTokens",
                    models.BigIntegerField(
                        blank=True, db_column="inputCacheWrite12hTokens", null=True
                    ),
                ),
                (
                    "connector",
                    models.ForeignKey(
                        db_column="connectorId",
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="connectors.connector",
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        db_column="taskId",
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="connectors.task",
                    ),
                ),
            ],
            options={
                "db_table": "decisionsDailyBy",
                "indexes": [
                    models.Index(
                        fields=["connector", "dimension", "day"], name="decisionsdailyby_conn_dim"
                    ),
                    models.Index(
                        fields=["task", "bucket_width", "day"], name="decisionsdailyby_task_day"
                    ),
                ],
            },
        ),
        AddIndexOnPostgres(
            model_name="decisions",
            index=models.Index(
                models.F("connector"),
                django.db.models.functions.comparison.Cast(
                    models.Func(models.Value("UTC"), models.F("start_time"), function="timezone"),
                    models.DateField(),
                ),
                models.F("inputTokens"),
                models.F("id"),
                name="decisions_inputtoken_ix",
            ),
        ),
        AddIndexOnPostgres(
            model_name="decisions",
            index=models.Index(
                models.F("connector"),
                django.db.models.functions.comparison.Cast(
                    models.Func(models.Value("UTC"), models.F("start_time"), function="timezone"),
                    models.DateField(),
                ),
                models.F("outputTokens"),
                models.F("id"),
                name="decisions_outputtoke_ix",
            ),
        ),
    ]
