"""On SQLite, decimals are stored as floats: `exact_sum` adds them back as decimals."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

from connectors.explore.sums import _ExactSum


def test_exact_sum_adds_what_was_written_where_sqlite_sum_drifts():
    db = sqlite3.connect(":memory:")
    db.create_aggregate("exact_sum", 1, _ExactSum)
    db.execute("CREATE TABLE costs (amount DECIMAL)")
    written = ["0.1", "0.2"]  # 0.30000000000000004 as floats
    db.executemany("INSERT INTO costs VALUES (?)", [(v,) for v in written])  # as Django does
    exact = sum(Decimal(v) for v in written)
    (drifting,) = db.execute("SELECT SUM(amount) FROM costs").fetchone()
    (summed,) = db.execute("SELECT exact_sum(amount) FROM costs").fetchone()
    assert Decimal(repr(drifting)) != exact  # the float sum SQLite makes
    assert Decimal(repr(summed)) == exact
    (none,) = db.execute("SELECT exact_sum(amount) FROM costs WHERE amount > 1000").fetchone()
    assert none is None


def test_exact_sum_keeps_a_thousand_cents_at_ten_dollars():
    db = sqlite3.connect(":memory:")
    db.create_aggregate("exact_sum", 1, _ExactSum)
    db.execute("CREATE TABLE costs (amount DECIMAL)")
    db.executemany("INSERT INTO costs VALUES (?)", [("0.01",)] * 1000)
    (drifting,) = db.execute("SELECT SUM(amount) FROM costs").fetchone()
    (summed,) = db.execute("SELECT exact_sum(amount) FROM costs").fetchone()
    assert drifting != 10.0 and summed == 10.0
