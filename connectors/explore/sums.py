"""Sums of decimals that stay exact on the embedded SQLite database.

SQLite keeps decimals as floating-point numbers and adds them as such: a day's costs
came out as 97.7760388869999 instead of 97.776038887. There, `Total` over a decimal
column adds the values as decimals instead (`exact_sum`, an aggregate registered on
each SQLite connection) and the ORM rounds the result to the 15 digits SQLite keeps of
each value. Everywhere else, and over other columns, it is SUM.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.backends.signals import connection_created
from django.db.models import DecimalField, Sum


class Total(Sum):
    def as_sqlite(self, compiler, connection, **extra_context):
        if isinstance(self.output_field, DecimalField):
            extra_context["function"] = "exact_sum"
        return super().as_sqlite(compiler, connection, **extra_context)


class _ExactSum:
    """The SQLite aggregate: each value read back as the decimal it was written as (the
    shortest text a float round-trips through), added exactly."""

    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value) -> None:
        if value is not None:
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
            self.total = number if self.total is None else self.total + number

    def finalize(self) -> float | None:
        return None if self.total is None else float(self.total)


def register(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("exact_sum", 1, _ExactSum)


def connect() -> None:
    connection_created.connect(register, dispatch_uid="connectors.explore.sums.register")
