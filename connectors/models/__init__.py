from connectors.models.config import Connector, IntervalUnit, QueueBehaviour, Task
from connectors.models.dataapi import DataApiKey
from connectors.models.people import Preference
from connectors.models.runs import Coverage, RunStatus, RunTrigger, StreamState, TaskRun
from connectors.models.tables import (
    DAILY_BY_TABLES,
    DAILY_TABLES,
    DIRECTORY_TABLES,
    USAGE_TABLES,
    ApiKeyEntry,
    ProjectEntry,
    ServiceAccountEntry,
    UserEntry,
)

__all__ = [
    "ApiKeyEntry",
    "Connector",
    "Coverage",
    "DAILY_BY_TABLES",
    "DAILY_TABLES",
    "DataApiKey",
    "DIRECTORY_TABLES",
    "IntervalUnit",
    "Preference",
    "ProjectEntry",
    "QueueBehaviour",
    "RunStatus",
    "RunTrigger",
    "ServiceAccountEntry",
    "StreamState",
    "Task",
    "TaskRun",
    "USAGE_TABLES",
    "UserEntry",
]
