"""Run the whole Data Hub as real processes: web server, Celery worker and Celery beat.

A worker or beat that exits is started again (after 1 s, doubling up to 30 s while it
keeps exiting); only the web server's exit or Ctrl-C/SIGTERM stops the Data Hub."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from connectors.openai.emulator import DEMO_ADMIN_KEY
from connectors.setup import crypto
from connectors.setup.demo import demo_setup


class Command(BaseCommand):
    help = "Migrate, make sure an admin exists, then run web, worker and beat until Ctrl-C."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument(
            "--demo",
            action="store_true",
            help="Also run the OpenAI emulator and a demo connector whose tasks run at once.",
        )

    def handle(self, *args, host: str, port: str, demo: bool, **options) -> None:
        self._prepare()
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "datahub"]
        commands = {}
        if demo:
            emulator_port = os.environ.get("EMULATOR_PORT", "8100")
            base_url = f"http://127.0.0.1:{emulator_port}/v1"
            os.environ["OPENAI_BASE_URL"] = base_url  # new connectors default to it
            commands["emulator"] = [python, "manage.py", "openai_emulator", "--port", emulator_port]
            demo_setup(base_url)
        commands |= {
            "web": [
                python,
                "-m",
                "gunicorn",
                "datahub.wsgi",
                "--bind",
                f"{host}:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
            ],
            "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"],
            "beat": [
                *celery,
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }
        self.stdout.write(
            self.style.SUCCESS(f"Data Hub running on http://{host}:{port}/ (Ctrl-C stops it)")
        )
        if demo:
            self._print_demo(host, port, base_url)
        self.stdout.flush()
        sys.exit(self._supervise(commands))

    def _print_demo(self, host: str, port: str, base_url: str) -> None:
        user = os.environ.get("DATAHUB_ADMIN_USER", "admin")
        password = os.environ.get("DATAHUB_ADMIN_PASSWORD", "(printed above)")
        self.stdout.write(
            "\nDemo: the OpenAI emulator serves made-up data; the demo connector's tasks are "
            "running now.\n"
            f"  open      http://{host}:{port}/\n"
            f"  log in    {user} / {password}\n"
            f"  ADMIN KEY {DEMO_ADMIN_KEY}  (for Add Connector)\n"
            f"  base URL  {base_url}  (Advanced → API BASE URL; the default in this demo)\n"
        )

    def _prepare(self) -> None:
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        for folder in ("messages", "control"):
            (settings.BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
        crypto.encrypt("")  # creates the local encryption key once, before the workers start
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("ensure_admin")

    def _supervise(self, commands: dict[str, list[str]]) -> int:
        """Run every process; restart a worker, beat or emulator that exits, with a backoff.

        Only the web server's exit (1) or Ctrl-C/SIGTERM (0) stops the Data Hub.
        """
        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        children = {name: _Child(name, command) for name, command in commands.items()}
        for child in children.values():
            child.start()
        while not stopping:
            for child in children.values():
                message = "" if stopping else child.check(time.monotonic())
                if message:
                    self._say(message)
                if message and child.name == "web":
                    _stop_all(children.values())
                    return 1
            time.sleep(0.5)
        _stop_all(children.values())
        return 0

    def _say(self, message: str) -> None:
        self.stderr.write(message)
        self.stderr.flush()


RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
STAYED_UP_SECONDS = 60.0  # a process up this long starts its backoff afresh


class _Child:
    """One process of the Data Hub and its restart backoff."""

    def __init__(self, name: str, command: list[str]) -> None:
        self.name, self.command = name, command
        self.process: subprocess.Popen | None = None
        self.started = self.restart_at = 0.0
        self.delay = RESTART_FIRST_SECONDS

    def start(self) -> None:
        # A process group of its own: what it started goes with it (below), and Ctrl-C
        # reaches rundatahub alone, which then stops each group in order.
        self.process = subprocess.Popen(self.command, start_new_session=True)  # noqa: S603
        self.started = time.monotonic()

    def check(self, now: float) -> str:
        """Restart when due; returns what to tell the user when the process has exited."""
        if self.process is None:
            if now >= self.restart_at:
                self.start()
            return ""
        code = self.process.poll()
        if code is None:
            return ""
        _signal_group(self.process, signal.SIGKILL)  # a killed master's orphans: pool
        self.process = None  # processes, gunicorn workers still serving the port
        if self.name == "web":
            return f"web server exited with {_exit(code)}; stopping the Data Hub."
        if now - self.started >= STAYED_UP_SECONDS:
            self.delay = RESTART_FIRST_SECONDS
        delay, self.restart_at = self.delay, now + self.delay
        self.delay = min(self.delay * 2, RESTART_MAX_SECONDS)
        return f"{self.name} exited with {_exit(code)}; restarting in {delay:g} s."


def _exit(code: int) -> str:
    if code < 0:
        return f"code {code} ({signal.Signals(-code).name})"
    return f"code {code}"


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _stop_all(children: Iterable[_Child]) -> None:
    processes = [child.process for child in children if child.process is not None]
    for process in processes:
        process.send_signal(signal.SIGTERM)  # the leader stops its own children in order
    deadline = time.monotonic() + 15
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(0.1, deadline - time.monotonic()))
        _signal_group(process, signal.SIGKILL)  # whatever is left of it
        process.wait()
