"""The emulator's clock: fixed at a moment, or following the real clock."""

from __future__ import annotations

import time
from datetime import datetime

from connectors.openai.emulator.wire import to_timestamp


class Clock:
    def __init__(self, moment: int | str | datetime | None = None) -> None:
        self.set(moment)

    def now(self) -> int:
        return self._now if self._now is not None else int(time.time())

    def set(self, moment: int | str | datetime | None) -> None:
        """Fix the clock (Unix seconds, ISO 8601 or datetime); None follows the real clock."""
        self._now = None if moment is None else to_timestamp(moment)

    def advance(self, seconds: int) -> int:
        self._now = self.now() + int(seconds)
        return self._now
