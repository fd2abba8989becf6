"""Benchmark: is the OpenAI Admin API emulator fast enough to measure collectors, not itself?

Starts the emulator over HTTP on 127.0.0.1 in its own process, hammers it with 16
concurrent httpx clients for a bounded time with a collector-like mix of requests (once
re-reading a 90-day history, once with every window new), then times one large page
(1440 one-minute buckets grouped by project and model).

    .venv/bin/python bench/emulator.py [--seconds 10] [--clients 16]

Target: at least 500 requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._setup import free_port  # noqa: E402
from connectors.openai.emulator import DEMO_ADMIN_KEY, Emulator, serve  # noqa: E402

NOW = 1793491200  # 2026-11-01T00:00:00Z
DAY = 86400
TARGET = 500
HEADERS = {"Authorization": f"Bearer {DEMO_ADMIN_KEY}"}


def _serve(port: int) -> None:
    serve(Emulator(now=NOW), "127.0.0.1", port, log_level="warning")


def _request(rng: random.Random, fresh: bool) -> tuple[str, dict]:
    """One request of a collector's mix: mostly usage pages, some costs and directory.

    fresh: every window is new (unaligned starts over 600 days), so nothing is memoised.
    """
    day = NOW - rng.randrange(1, 90) * DAY
    if fresh:
        day = NOW - rng.randrange(1, 600) * DAY - rng.randrange(1, DAY)
    kind = rng.random()
    if kind < 0.3:
        return "/organization/usage/completions", {
            "start_time": day - 7 * DAY, "end_time": day, "limit": 7,
            "group_by": "project_id,model",
        }  # fmt: skip
    if kind < 0.5:
        return "/organization/usage/embeddings", {
            "start_time": day, "end_time": day + DAY, "bucket_width": "1h", "limit": 24,
            "group_by": "project_id",
        }  # fmt: skip
    if kind < 0.65:
        minute = NOW - rng.randrange(1, 24 * 60) * 60
        return "/organization/usage/completions", {
            "start_time": minute - 3600, "end_time": minute, "bucket_width": "1m", "limit": 60,
        }  # fmt: skip
    if kind < 0.8:
        return "/organization/costs", {
            "start_time": day - 7 * DAY, "end_time": day, "group_by": "line_item",
        }  # fmt: skip
    return rng.choice(("/organization/projects", "/organization/users")), {"limit": 100}


async def _client(base_url, deadline, seed: int, fresh: bool, latencies: list, errors: list):
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base_url, headers=HEADERS, timeout=30) as client:
        while time.monotonic() < deadline:
            path, params = _request(rng, fresh)
            began = time.perf_counter()
            response = await client.get(path, params=params)
            latencies.append(time.perf_counter() - began)
            if response.status_code != 200:
                errors.append(response.status_code)


async def _hammer(base_url: str, seconds: float, clients: int, fresh: bool):
    latencies: list[float] = []
    errors: list[int] = []
    began = time.monotonic()
    deadline = began + seconds
    await asyncio.gather(
        *(_client(base_url, deadline, n, fresh, latencies, errors) for n in range(clients))
    )
    return latencies, errors, time.monotonic() - began


def _large_page(base_url: str) -> tuple[float, int, int]:
    params = {"start_time": NOW - DAY, "end_time": NOW, "bucket_width": "1m", "limit": 1440,
              "group_by": "project_id,model"}  # fmt: skip
    with httpx.Client(base_url=base_url, headers=HEADERS, timeout=60) as client:
        began = time.perf_counter()
        response = client.get("/organization/usage/completions", params=params)
        elapsed = time.perf_counter() - began
    page = response.json()
    results = sum(len(bucket["results"]) for bucket in page["data"])
    return elapsed, len(page["data"]), results


def _wait_until_up(base_url: str) -> None:
    for _ in range(200):
        try:
            httpx.get(base_url + "/organization/projects", headers=HEADERS)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit("The emulator did not start.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per phase")
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    port = free_port()
    server = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    server.start()
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_up(base_url)
        runs = {
            name: asyncio.run(_hammer(base_url, args.seconds, args.clients, fresh))
            for name, fresh in (("repeated windows", False), ("fresh windows", True))
        }
        page_time, buckets, results = _large_page(base_url)
    finally:
        server.terminate()
        server.join(timeout=10)
    rates = {name: _report(name, *run, args.clients) for name, run in runs.items()}
    print(f"large page:  {buckets} buckets, {results} results in {page_time * 1000:.0f} ms")
    worst = min(rates.values())
    verdict = "PASS" if worst >= TARGET else "FAIL"
    print(f"{verdict}: {worst:.0f} requests/s at worst against a target of {TARGET}")


def _report(name: str, latencies: list, errors: list, elapsed: float, clients: int) -> float:
    rate = len(latencies) / elapsed
    cuts = statistics.quantiles(latencies, n=100)
    print(f"{name}: {len(latencies)} requests in {elapsed:.1f} s with {clients} clients")
    print(f"  throughput {rate:.0f} requests/s, errors {len(errors)}")
    print(f"  latency p50 {cuts[49] * 1000:.1f} ms, p95 {cuts[94] * 1000:.1f} ms")
    return rate if not errors else 0.0


if __name__ == "__main__":
    main()
