"""Benchmark: is Export CSV streamed in constant memory, and how fast is it?

Exports the completions table of `bench/views.py`'s seed (a year of 1h buckets, 10
million rows by default; seeded first when the database does not hold it) for the 1, 7,
30 and 90 whole UTC days before today, each in a fresh process (this script with
`--child`), through Django's test Client as a logged-in staff user, reading the streamed
answer chunk by chunk and keeping none of it. For each export it prints the rows, the
CSV's size, the wall time, rows/s, and the process's peak resident memory (VmHWM) during
the export: the peak is reset (/proc/self/clear_refs) after a warm-up export of today's
rows, so imports, templates and the database connection are not counted as the export's.

Compared against, on the same rows in the same order: Postgres writing them as CSV itself
(`COPY (SELECT …) TO STDOUT WITH CSV`, read with psycopg, best of 2), which knows no
names and no totals: the physical limit of reading the rows out.

Target: the 90-day export (3.3 million rows at full size) peaks within 1.1x of the 1-day
export's memory. A miss is reported, not raised.

    .venv/bin/python bench/export.py [--rows N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._setup import configure, create_database, current_rss_kb, peak_rss_kb  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/datahub_bench_views"
DEFAULT_ROWS = 10_000_000
DAYS = (1, 7, 30, 90)
MEMORY_TARGET = 1.1  # the largest export's peak over the smallest's


def _reset_peak() -> None:
    """Start VmHWM again from the current resident size (Linux: clear_refs 5)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _export_params(days: int, today) -> dict[str, str]:
    """The `days` whole UTC days before today (END is inclusive)."""
    last = today - timedelta(days=1)
    return {"preset": "custom", "start": str(last - timedelta(days=days - 1)), "end": str(last)}


# --- one export, in a process of its own ---------------------------------------------


def _child(days: int) -> None:
    import django

    django.setup()
    from django.urls import reverse

    from bench import _views_data, views
    from connectors.models import Connector

    connector = Connector.objects.get(name=_views_data.CONNECTOR_NAME)
    url = reverse("connectors:table-export", args=[connector.pk, "completions"])
    client = views._client()
    today = datetime.now(UTC).date()
    warm = {"preset": "custom", "start": str(today), "end": str(today)}
    _drain(client.get(url, warm))  # imports, templates, the connection, a first chunk
    _reset_peak()
    before = current_rss_kb()
    began = time.perf_counter()
    lines, size = _drain(client.get(url, _export_params(days, today)))
    seconds = time.perf_counter() - began
    figures = {"lines": lines, "bytes": size, "seconds": seconds}
    print(json.dumps(figures | {"before_kb": before, "peak_kb": peak_rss_kb()}))


def _drain(response) -> tuple[int, int]:
    """Read a streamed answer to its end, keeping nothing: (lines, bytes)."""
    if response.status_code != 200:
        raise RuntimeError(f"the export answered {response.status_code}")
    lines = size = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        size += len(chunk)
    response.close()
    return lines, size


def _run_child(days: int, database_url: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(days), "--database-url", database_url],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"The {days}-day export failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the comparison: Postgres writing the same rows as CSV ----------------------------


def _copy_csv(connector_pk: int, days: int, database_url: str) -> dict:
    import psycopg

    today = datetime.now(UTC).date()
    start = datetime.combine(today - timedelta(days=days), datetime.min.time(), UTC)
    end = datetime.combine(today, datetime.min.time(), UTC)
    sql = (
        'COPY (SELECT * FROM completions WHERE "connectorId" = %s AND "startTime" >= %s'
        ' AND "startTime" < %s ORDER BY "startTime" DESC, id DESC) TO STDOUT WITH CSV HEADER'
    )
    best = None
    with psycopg.connect(database_url) as conn:
        for _ in range(2):
            lines = size = 0
            began = time.perf_counter()
            with conn.cursor().copy(sql, (connector_pk, start, end)) as copy:
                for block in copy:
                    lines += bytes(block).count(b"\n")
                    size += len(block)
            seconds = time.perf_counter() - began
            if best is None or seconds < best["seconds"]:
                best = {"lines": lines, "bytes": size, "seconds": seconds}
    return best


# --- report -------------------------------------------------------------------------


def _report(rows_seeded: int, exports: dict[int, dict], copies: dict[int, dict]) -> None:
    print(f"\n{rows_seeded:,}-row completions table; each export in a fresh process.")
    header = f"{'export':<9} {'rows':>10} {'CSV MB':>8} {'s':>7} {'rows/s':>9}"
    print(f"\n{header} {'peak MB':>8} {'COPY rows/s':>12} {'vs COPY':>8}")
    for days, export in exports.items():
        rows = export["lines"] - 2  # the header and the totals line
        copy = copies[days]
        rate, copy_rate = rows / export["seconds"], (copy["lines"] - 1) / copy["seconds"]
        print(
            f"{f'{days} days':<9} {rows:>10,} {export['bytes'] / 1e6:>8.1f} "
            f"{export['seconds']:>7.1f} {rate:>9,.0f} {export['peak_kb'] / 1024:>8.1f} "
            f"{copy_rate:>12,.0f} {rate / copy_rate:>7.2f}x"
        )
    small, large = exports[DAYS[0]], exports[DAYS[-1]]
    ratio = large["peak_kb"] / small["peak_kb"]
    verdict = "met" if ratio <= MEMORY_TARGET else "MISSED"
    print(
        f"\nPeak memory: the {DAYS[-1]}-day export {large['peak_kb'] / 1024:.1f} MB, the "
        f"{DAYS[0]}-day export {small['peak_kb'] / 1024:.1f} MB: {ratio:.2f}x "
        f"(target ≤ {MEMORY_TARGET}x): {verdict}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows to seed")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if "bench" not in urlsplit(args.database_url).path:
        raise SystemExit("The database name must contain 'bench': its tables are emptied.")
    configure(args.database_url)
    if args.child:
        _child(args.child)
        return
    create_database(args.database_url)
    from bench import views

    views._setup_django()
    connector = views._prepare(args.rows, args.database_url)
    from django.db import connection

    connection.close()
    exports, copies = {}, {}
    for days in DAYS:
        print(f"  export: {days} days …", flush=True)
        exports[days] = _run_child(days, args.database_url)
        copies[days] = _copy_csv(connector.pk, days, args.database_url)
    _report(args.rows, exports, copies)


if __name__ == "__main__":
    main()
