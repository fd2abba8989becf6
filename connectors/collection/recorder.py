"""A running run's counters, log and streams, kept in memory by the run's threads and
saved with each page, in the page's transaction, while this worker holds the run."""

from __future__ import annotations

import threading

from django.db import connection
from django.utils import timezone

from connectors.collection import ratelimit
from connectors.collection.heartbeat import Heartbeat, LeaseLost, RunCancelled
from connectors.models import TaskRun
from connectors.openai.client import OpenAIError
from connectors.openai.persistence import Counts

LOG_LINES = 200

_SAVED = [
    "requests_made", "requests_planned", "pages", "rows_inserted", "rows_updated",
    "rows_unchanged", "current_stream", "window_start", "window_end", "checkpoint",
    "streams", "log", "heartbeat_at",
]  # fmt: skip


class Recorder:
    """The run's counters in memory, saved with each page in the page's transaction."""

    def __init__(self, run: TaskRun, heartbeat: Heartbeat) -> None:
        self.run = run
        self.connector = run.task.connector
        self.heartbeat = heartbeat
        self._lock = threading.Lock()  # the fetch threads count and note too

    def before_request(self) -> None:
        """Runs on the page fetch threads too: no database here, only counting."""
        self.heartbeat.check()
        ratelimit.acquire(
            self.connector.pk, self.connector.requests_per_minute, sleep=self.heartbeat.wait
        )
        self.heartbeat.check()
        with self._lock:
            self.run.requests_made += 1
            # Directory listings have no count known in advance: the plan grows with them.
            self.run.requests_planned = max(self.run.requests_planned, self.run.requests_made)
            entry = self.run.streams.get(self.run.current_stream)
            if entry is not None:
                entry["done"] = entry.get("done", 0) + 1
                entry["planned"] = max(entry.get("planned", 0), entry["done"])

    def on_retry(self, error: OpenAIError, delay: float) -> None:
        self.note(f"{error.message} Retrying in {delay:.1f} s.")

    def note(self, message: str) -> None:
        stamp = timezone.now().strftime("%H:%M:%S")
        with self._lock:
            self.run.log = [*self.run.log, f"{stamp} {message}"][-LOG_LINES:]

    def stream(self, kind: str, status: str, message: str = "") -> None:
        entry = self.run.streams.setdefault(kind, {"planned": 0, "done": 0})
        entry["status"] = status
        entry["failed"] = status == "failed"
        if message:
            entry["message"] = message

    def page_done(self, counts: Counts) -> None:
        self.run.pages += 1
        self.run.rows_inserted += counts.inserted
        self.run.rows_updated += counts.updated
        self.run.rows_unchanged += counts.unchanged
        self.save()

    def names_page_done(self, counts: Counts) -> None:
        """A page of the directory refresh behind a usage run: not the task's own rows."""
        self.run.pages += 1
        self.save()

    def save(self) -> None:
        """Write the run's progress, if this worker still holds the run: in a page's
        transaction, a lost lease rolls the page back."""
        self.run.heartbeat_at = timezone.now()
        with self._lock:
            cancelled = _save_holding_lease(self.run, _SAVED)
        if cancelled is None:  # raised in the page's transaction: the page rolls back
            self.heartbeat.stop(LeaseLost)
            raise LeaseLost
        if cancelled:  # the page commits; the run stops before its next request
            self.heartbeat.stop(RunCancelled)


def _save_holding_lease(run: TaskRun, fields: list[str]) -> bool | None:
    """Save the run's fields where this worker's lease still holds, and read whether a
    user asked to cancel, in one UPDATE … RETURNING. None: the lease is gone."""
    meta, q = TaskRun._meta, connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    values = [f.get_db_prep_save(getattr(run, f.attname), connection) for f in columns]
    assigned = ", ".join(f"{q(f.column)} = %s" for f in columns)
    statement = (
        f"UPDATE {q(meta.db_table)} SET {assigned} "  # noqa: S608 (quoted identifiers, values as parameters)
        f"WHERE {q(meta.pk.column)} = %s AND {q('lease')} = %s "
        f"RETURNING {q('cancel_requested')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*values, run.pk, run.lease])
        found = cursor.fetchone()
    return None if found is None else bool(found[0])
