"""`make run` keeps the Data Hub up: a worker or beat that dies is started again (with a
growing pause while it keeps dying) and the web keeps answering; only the web server's
death or Ctrl-C/SIGTERM stops everything."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.test_embedded_default import alive, children_of, free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def eventually(probe: Callable[[], T], seconds: float = 60) -> T:
    deadline = time.monotonic() + seconds
    while not (found := probe()):
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.2)
    return found


class DataHub:
    def __init__(self, process: subprocess.Popen, port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.seen: set[int] = set()  # every process the Data Hub started, to clean up

    def output(self) -> str:
        return self.log.read_text()

    def child(self, word: str) -> int | None:
        """The pid of the Data Hub's process whose command line has `word`."""
        children = children_of(self.process.pid)
        for pid in children:
            self.seen |= {pid, *children_of(pid)}
        return next((pid for pid, args in children.items() if word in args.split()), None)

    def answers(self) -> bool:
        return wait_for(f"http://127.0.0.1:{self.port}/login/").status_code == 200


@contextlib.contextmanager
def running_datahub(tmp_path: Path) -> Iterator[DataHub]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env |= {"DATAHUB_VAR_DIR": str(tmp_path), "PORT": str(port), "DATAHUB_ENCRYPTION_KEY": ""}
    log = tmp_path / "run.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "rundatahub"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    hub = DataHub(process, port, log)
    try:
        assert hub.answers()
        yield hub
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        for pid in hub.seen:  # a killed worker's pool processes, should any outlive it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_it_restarts_a_dead_worker_while_the_web_keeps_answering(tmp_path):
    with running_datahub(tmp_path) as hub:
        first = eventually(lambda: hub.child("worker"))
        pool = eventually(lambda: children_of(first))
        os.kill(first, signal.SIGKILL)
        eventually(
            lambda: "worker exited with code -9 (SIGKILL); restarting in 1 s" in hub.output()
        )
        second = eventually(lambda: (pid := hub.child("worker")) != first and pid)
        assert eventually(lambda: children_of(second))  # a working worker, with its pool
        assert not [pid for pid in pool if alive(pid)]  # the dead one's pool went with it
        assert hub.answers()

        os.kill(second, signal.SIGKILL)  # dying again at once: a longer pause
        eventually(
            lambda: "worker exited with code -9 (SIGKILL); restarting in 2 s" in hub.output()
        )
        eventually(lambda: hub.child("worker") not in (None, first, second))
        beat = eventually(lambda: hub.child("beat"))
        os.kill(beat, signal.SIGTERM)
        eventually(lambda: "beat exited with code 0; restarting in 1 s" in hub.output())
        eventually(lambda: hub.child("beat") not in (None, beat))
        assert hub.answers() and hub.process.poll() is None

        hub.process.send_signal(signal.SIGTERM)
        assert hub.process.wait(30) == 0
    assert "stopping the Data Hub" not in hub.output()


@pytest.mark.slow
def test_it_stops_everything_when_the_web_server_dies(tmp_path):
    with running_datahub(tmp_path) as hub:
        web = eventually(lambda: hub.child("gunicorn"))
        others = [eventually(partial(hub.child, word)) for word in ("worker", "beat")]
        os.kill(web, signal.SIGKILL)
        assert hub.process.wait(30) == 1
        assert "web server exited with code -9 (SIGKILL); stopping the Data Hub." in hub.output()
        assert not [pid for pid in others if alive(pid)]  # rundatahub waited for them
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{hub.port}/login/", timeout=2)
