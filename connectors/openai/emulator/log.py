"""The request log: what a collector asked for, so tests can count its requests."""

from __future__ import annotations

import fnmatch
import threading
from collections import Counter
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RequestRecord:
    number: int  # from 1 since the last reset
    method: str
    path: str  # without the /v1 prefix: /organization/usage/completions
    params: dict[str, list[str]]  # `key[]` is recorded as `key`
    status: int | None  # None: the connection was dropped
    fault: str | None

    def as_dict(self) -> dict:
        return asdict(self)


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    @property
    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def count(self, path: str = "*", **params: str) -> int:
        """Requests whose path matches the glob `path` and whose parameters include `params`."""
        return sum(1 for r in self.records if _matches(r, path, params))

    def by_path(self) -> dict[str, int]:
        return dict(Counter(r.path for r in self.records))

    def as_json(self) -> dict:
        records = self.records
        return {
            "count": len(records),
            "by_path": dict(Counter(r.path for r in records)),
            "requests": [r.as_dict() for r in records],
        }


def _matches(record: RequestRecord, path: str, params: dict[str, str]) -> bool:
    if not fnmatch.fnmatchcase(record.path, path):
        return False
    return all(value in record.params.get(name, []) for name, value in params.items())
