"""A running run's heartbeat: proof to the other workers that this one still holds the
run, and how a Cancel or a takeover reaches the run's threads within seconds."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from connectors.models import TaskRun

log = logging.getLogger(__name__)


class Stopped(Exception):
    """The run must stop at once: a user cancelled it, or another worker took it over."""


class RunCancelled(Stopped):
    pass


class LeaseLost(Stopped):
    """Another worker took the run over (this one was thought dead): write nothing more."""


class Heartbeat:
    """A thread that writes the run's heartbeat every RUN_HEARTBEAT_SECONDS, whatever the
    run is doing (fetching, waiting on a Retry-After or the rate limit, writing), and
    reads back whether a user asked to cancel and whether this worker still holds the
    lease. The run's threads call `check()` before each request and sleep on `wait()`,
    so a Cancel or a takeover stops them within seconds."""

    def __init__(self, run: TaskRun) -> None:
        self.run_id, self.lease = run.pk, run.lease
        self.interval = settings.RUN_HEARTBEAT_SECONDS
        self.reason: type[Stopped] | None = None
        self._stopping = threading.Event()
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._ended.set()
        self._thread.join()

    def _beat(self) -> None:
        try:
            while not self._ended.wait(self.interval):
                self.beat()
        finally:
            connection.close()  # this thread's own connection

    def beat(self) -> None:
        try:
            found = TaskRun.objects.filter(pk=self.run_id).values_list("lease", "cancel_requested")
            lease, cancelled = found.first() or (self.lease, False)  # not visible: go on
            if lease == self.lease:
                TaskRun.objects.filter(pk=self.run_id, lease=self.lease).update(
                    heartbeat_at=timezone.now()
                )
        except DatabaseError as error:  # the run's own thread meets it too, and decides
            log.warning("run %s: heartbeat not written: %s", self.run_id, error)
            connection.close()
            return
        if lease != self.lease:
            self.stop(LeaseLost)
        elif cancelled:
            self.stop(RunCancelled)

    def stop(self, reason: type[Stopped]) -> None:
        self.reason = self.reason or reason
        self._stopping.set()

    def check(self) -> None:
        if self.reason is not None:
            raise self.reason

    def wait(self, seconds: float) -> None:
        """Sleep, but wake and stop as soon as the run must stop."""
        if self._stopping.wait(max(seconds, 0)):
            self.check()
