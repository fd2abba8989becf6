"""`manage.py openai_emulator`: serve the OpenAI Admin API emulator on http://HOST:PORT/v1."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from connectors.openai.emulator import DEFAULT_SEED, Emulator, FaultConfig, serve


class Command(BaseCommand):
    help = "Serve the OpenAI Admin API emulator (see docs/emulator.md)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument("--now", help="Fix the clock (ISO 8601 or Unix seconds).")
        parser.add_argument("--latency-ms", type=float, default=0.0)
        parser.add_argument("--jitter-ms", type=float, default=0.0)
        parser.add_argument("--rate-429", type=float, default=0.0)
        parser.add_argument("--rate-5xx", type=float, default=0.0)
        parser.add_argument("--rate-drop", type=float, default=0.0)
        parser.add_argument("--retry-after", type=int, default=1)
        parser.add_argument("--fault-seed", type=int, default=0)
        parser.add_argument("--finality-minutes", type=float, default=15.0)
        parser.add_argument("--costs-finality-hours", type=float, default=36.0)

    def handle(self, *args, **options) -> None:
        faults = FaultConfig(
            rate_429=options["rate_429"],
            rate_5xx=options["rate_5xx"],
            rate_drop=options["rate_drop"],
            latency_ms=options["latency_ms"],
            jitter_ms=options["jitter_ms"],
            retry_after=options["retry_after"],
            seed=options["fault_seed"],
        )
        emulator = Emulator(
            options["seed"],
            now=options["now"],
            usage_finality=int(options["finality_minutes"] * 60),
            costs_finality=int(options["costs_finality_hours"] * 3600),
            faults=faults,
        )
        host, port = options["host"], options["port"]
        self.stdout.write(
            f"OpenAI Admin API emulator on http://{host}:{port}/v1 (seed {options['seed']})"
        )
        serve(emulator, host, port)
