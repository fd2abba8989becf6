"""Fetch the next page while the current one is written: the HTTP wait overlaps the
database work. The producer thread touches no database; it only fetches and parses."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetched(items: Iterator[T]) -> Iterator[T]:
    """Yield `items` as they are, producing each next one in a background thread."""
    handoff: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                handoff.put(entry, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                entry, item = (item, None), None  # the queue holds the only reference
                if not offer(entry):
                    return
                entry = None
            offer((_DONE, None))
        except BaseException as error:  # handed to the consumer, raised there
            offer((_DONE, error))

    threading.Thread(target=produce, name="page-prefetch", daemon=True).start()
    try:
        while True:
            item, error = handoff.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
            item = None  # let the item go before waiting for the next one
    finally:
        stop.set()
