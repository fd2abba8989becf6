"""A task's run estimate: the requests a full run makes, and when it is large enough to be
confirmed before it is saved."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.openai.plan import estimate, stream_queries

LARGE_REQUESTS = 1000  # a run above this many requests, or ...
LARGE_MINUTES = 10  # ... this many minutes, is confirmed before it is saved


@dataclass(frozen=True)
class RunEstimate:
    """The requests a full run makes and how long they take at the connector's rate."""

    requests: int
    rate: int  # requests per minute; 0: no limit

    @property
    def minutes(self) -> int:
        return math.ceil(self.requests / self.rate) if self.rate else 0

    @property
    def large(self) -> bool:
        return self.requests > LARGE_REQUESTS or self.minutes > LARGE_MINUTES

    @property
    def text(self) -> str:
        count = f"{self.requests:,} request{'s' if self.requests != 1 else ''}"
        if not self.rate:
            return f"{count}, no request limit set"
        return f"{count} ≈ {_duration(self.minutes)} at {self.rate:,} a minute"


def _duration(minutes: int) -> str:
    if minutes <= 1:
        return "1 min"
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def run_estimate(parameters: dict[str, Any], rate: int, now: datetime) -> RunEstimate:
    queries = stream_queries(parameters["type"], parameters)
    return RunEstimate(sum(estimate(q, now).requests for q in queries), rate)
