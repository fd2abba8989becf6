"""Fetch the next pages while the current one is written: the HTTP waits overlap the
database work and each other. The fetch threads touch no database; they only fetch,
parse and build rows."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def in_order(
    jobs: Iterable[Callable[[], T]], workers: int = 2, check: Callable[[], None] | None = None
) -> Iterator[T]:
    """Run the jobs on `workers` threads and yield their results in the jobs' order. The
    first job runs alone (a rejected key or a bad parameter fails on one request, not on
    several at once); after it, `workers` jobs are kept going. A job's exception is raised
    when its turn comes; jobs not started by then never start. While waiting for a
    result, `check` is called every second: whatever it raises stops the wait."""
    pending: deque[Future] = deque()
    todo = iter(jobs)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="page-fetch")
    try:
        first = next(todo, None)
        if first is not None:
            pending.append(pool.submit(first))
        while pending:
            result = _result(pending.popleft(), check)
            for job in todo:  # keep `workers` jobs going while this result is used
                pending.append(pool.submit(job))
                if len(pending) >= workers:
                    break
            yield result
            result = None  # let it go before waiting for the next one
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=False, cancel_futures=True)


def _result(future: Future[T], check: Callable[[], None] | None) -> T:
    while check is not None:
        try:
            return future.result(timeout=1)
        except TimeoutError:
            check()
    return future.result()
