"""Run the whole Data Hub as real processes: web server, Celery worker and Celery beat."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from connectors import crypto
from connectors.demo import demo_setup
from connectors.openai.emulator import DEMO_ADMIN_KEY


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
        processes = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}  # noqa: S603
        self.stdout.write(
            self.style.SUCCESS(f"Data Hub running on http://{host}:{port}/ (Ctrl-C stops it)")
        )
        if demo:
            self._print_demo(host, port, base_url)
        sys.exit(self._supervise(processes))

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

    def _supervise(self, processes: dict[str, subprocess.Popen]) -> int:
        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping:
            dead = [name for name, p in processes.items() if p.poll() is not None]
            if dead:
                self.stderr.write(f"{', '.join(dead)} stopped; stopping the Data Hub.")
                break
            time.sleep(0.5)
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        return 0 if stopping else 1
