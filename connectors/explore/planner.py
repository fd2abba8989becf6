"""Which rows answer a question: per UTC day one dataset, never two.

A *dataset* is what one task collected of one stream at one bucket width: rows of a known
grain (the dimensions it groups by, the filters it applies) over the spans its pages
covered (`Coverage`). A *question* asks one stream for sums over UTC days, filtered on
some dimensions and grouped by others. A dataset can answer a day of it when
- it groups by every dimension the question groups or filters by,
- each of its own filters is matched by an equality filter of the question that keeps a
  value inside it (a task collecting two projects answers for one of them, never for
  all of them),
- it covers the whole day. A day no dataset covers whole (today, or a START TIME that is
  not midnight) is answered by the dataset covering the longest part of it, and said to
  be partial, with the hours it covers.

Among the datasets able to answer a day, the first in this order answers it:
1. the most days of the question's range covered,
2. the coarsest grain: fewest dimensions, then the widest bucket,
3. the newest fetch,
4. the oldest task.
Days no dataset can answer are reported in words, with the task that would answer them,
and no number is made up for them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from connectors.models import Connector, Coverage, Task
from connectors.openai.plan import stream_queries
from connectors.openai.streams import DIMENSIONS, WIDTH_SECONDS, UsageStream, streams_for

DAY = timedelta(days=1)


def midnight(day: date) -> datetime:
    """The start of a UTC day."""
    return datetime.combine(day, time(), UTC)


def days_in(start: date, end: date) -> set[date]:
    """The days [start, end)."""
    return {start + DAY * i for i in range((end - start).days)}


def ranges(days: set[date] | list[date]) -> list[tuple[date, date]]:
    """Days as [start, end) ranges of consecutive days, in order."""
    found: list[tuple[date, date]] = []
    for day in sorted(days):
        if found and found[-1][1] == day:
            found[-1] = (found[-1][0], day + DAY)
        else:
            found.append((day, day + DAY))
    return found


def _length(span: tuple[datetime, datetime]) -> timedelta:
    return span[1] - span[0]


@dataclass(frozen=True)
class Dataset:
    """One task's rows of one stream at one bucket width."""

    task: Task
    width: str
    group_by: frozenset[str]  # dimension columns
    filters: dict[str, frozenset]  # dimension column → the values the task keeps
    spans: tuple[tuple[datetime, datetime, datetime], ...]  # (start, end, fetched_at)

    @property
    def fetched_at(self) -> datetime:
        return max(fetched for _, _, fetched in self.spans)

    @cached_property
    def days(self) -> tuple[set[date], dict[date, tuple[datetime, datetime]]]:
        """The UTC days it covers whole, and the days it covers in part: {day: the
        longest [start, end) of it covered}. Worked out once per dataset: a page asks
        several questions of the same datasets."""
        whole: set[date] = set()
        partial: dict[date, tuple[datetime, datetime]] = {}
        for start, end, _ in self.spans:
            day = start.date()
            while midnight(day) < end:
                begin, stop = max(start, midnight(day)), min(end, midnight(day + DAY))
                if begin == midnight(day) and stop == midnight(day + DAY):
                    whole.add(day)
                elif day not in partial or stop - begin > _length(partial[day]):
                    partial[day] = (begin, stop)
                day += DAY
        for day in whole:
            partial.pop(day, None)
        return whole, partial

    def answers(self, question: Question) -> bool:
        if question.task_id is not None and self.task.pk != question.task_id:
            return False
        if not question.involved <= self.group_by:
            return False
        for column, kept in self.filters.items():
            if column not in question.equal or question.equal[column] not in kept:
                return False
        return True

    def rank(self, covered: int) -> tuple:
        return (-covered, len(self.group_by), -WIDTH_SECONDS[self.width],
                -self.fetched_at.timestamp(), self.task.pk)  # fmt: skip


@dataclass(frozen=True)
class Question:
    """Sums of one stream over UTC days [start, end) (open ends: as far as collected)."""

    stream: UsageStream
    start: date | None = None
    end: date | None = None
    equal: dict[str, Any] = field(default_factory=dict)  # column → the one value kept
    involved: frozenset[str] = frozenset()  # columns grouped or filtered by
    task_id: int | None = None  # only this task's rows


@dataclass(frozen=True)
class Part:
    """Days [start, end) answered by one dataset."""

    dataset: Dataset
    start: date
    end: date


@dataclass
class Answer:
    question: Question
    parts: list[Part]
    missing: list[tuple[date, date]]  # day ranges no dataset answers
    partial: list[tuple[datetime, datetime]] = field(default_factory=list)  # days in part
    grain_problem: str = ""  # why no dataset at all can answer, in words
    suggestion: str = ""  # the task that would answer what is missing

    @property
    def until(self) -> datetime | None:
        """The last day is answered from midnight up to this time only (today)."""
        if self.partial and self.partial[-1][0].date() == self.last:
            start, end = self.partial[-1]
            return end if start == midnight(start.date()) else None
        return None

    @property
    def partial_days(self) -> set[date]:
        return {start.date() for start, _ in self.partial}

    @property
    def days(self) -> set[date]:
        """Every day answered, in whole or in part."""
        return {day for part in self.parts for day in days_in(part.start, part.end)}

    @property
    def answered(self) -> bool:
        return bool(self.parts)

    @property
    def first(self) -> date | None:
        return min((p.start for p in self.parts), default=None)

    @property
    def last(self) -> date | None:
        """The last day answered (inclusive)."""
        return max(p.end for p in self.parts) - DAY if self.parts else None

    def where(self, daily: bool) -> Q:
        """The rows (or daily rollup rows) of exactly the answering parts."""
        match = Q(pk__in=[])
        for part in self.parts:
            if daily:
                span = {"day__gte": part.start, "day__lt": part.end}
            else:
                span = {"start_time__gte": midnight(part.start),
                        "start_time__lt": midnight(part.end)}  # fmt: skip
            width = part.dataset.width
            match |= Q(task_id=part.dataset.task.pk, bucket_width=width, **span)
        return match

    def widths(self) -> set[str]:
        return {p.dataset.width for p in self.parts}

    def sources(self) -> list[dict]:
        """Per answering task: its name, link and the day ranges it answers."""
        found: dict[int, dict] = {}
        for part in self.parts:
            task = part.dataset.task
            entry = found.setdefault(
                task.pk,
                {"task": task, "url": reverse("connectors:task-detail", args=[task.pk]),
                 "ranges": [], "width": part.dataset.width},
            )  # fmt: skip
            entry["ranges"].append((part.start, part.end - DAY))
        return list(found.values())


def datasets(connector: Connector, stream: UsageStream) -> list[Dataset]:
    """Every dataset of `stream` the connector's tasks hold: one query."""
    return every_dataset(connector, [stream]).get(stream.type, [])


def every_dataset(connector: Connector, streams: list[UsageStream]) -> dict[str, list[Dataset]]:
    """{stream type: its datasets} for several streams at once, in one query."""
    spans: dict[tuple[str, int, str], list] = defaultdict(list)
    tasks: dict[int, Task] = {}
    coverage = Coverage.objects.filter(
        task__connector=connector, stream__in=[s.type for s in streams]
    )
    for span in coverage.select_related("task").order_by("start"):
        tasks[span.task_id] = span.task
        key = (span.stream, span.task_id, span.bucket_width)
        spans[key].append((span.start, span.end, span.fetched_at))
    by_type = {s.type: s for s in streams}
    found: dict[str, list[Dataset]] = defaultdict(list)
    for (kind, task_id, width), covered in spans.items():
        grain = _grain(tasks[task_id], by_type[kind])
        if grain is not None:
            found[kind].append(Dataset(tasks[task_id], width, *grain, tuple(covered)))
    return dict(found)


def _grain(task: Task, stream: UsageStream) -> tuple[frozenset, dict] | None:
    """The task's dimensions and filters for `stream` (None if it no longer collects it)."""
    if stream not in streams_for(task.query_type):
        return None
    query = next(q for q in stream_queries(task.query_type, task.parameters) if q.stream == stream)
    group_by = frozenset(DIMENSIONS[g].column for g in query.group_by)
    filters = {}
    for param in stream.filters:
        value = query.filters.get(param.api or param.suffix)
        if param.narrows and value is not None:
            values = value if isinstance(value, list | tuple) else [value]
            filters[DIMENSIONS[param.narrows].column] = frozenset(values)
    return group_by, filters


def answer(question: Question, found: list[Dataset], now: datetime | None = None) -> Answer:
    """Per day of the question, the dataset that answers it (see the module's rules)."""
    now = now or timezone.now()
    able = [d for d in found if d.answers(question)]
    if question.task_id is not None:
        found = [d for d in found if d.task.pk == question.task_id]
    start, end = _range(question, found, now)
    result = Answer(question, [], [])
    if start is None or end <= start:
        if not found:
            result.grain_problem = (
                f"No task has collected {question.stream.type} yet, so these figures "
                "cannot be answered."
            )
        elif not able:
            result.grain_problem = grain_problem(question)
        result.suggestion = suggestion(question, None)
        return result
    wanted = [start + DAY * i for i in range((end - start).days)]
    ranked = sorted(
        able, key=lambda d: d.rank(sum(1 for day in wanted if day in d.days[0] or day in d.days[1]))
    )
    chosen: list[Dataset | None] = []
    for day in wanted:
        best = next((d for d in ranked if day in d.days[0]), None)
        if best is None:  # no dataset has it whole: the one with the longest part of it
            parts = [d for d in ranked if day in d.days[1]]
            best = max(parts, key=lambda d: _length(d.days[1][day]), default=None)
            if best is not None:
                result.partial.append(best.days[1][day])
        chosen.append(best)
    result.parts, result.missing = _runs(wanted, chosen)
    if not able:
        result.grain_problem = grain_problem(question)
    if result.missing or not able:
        result.suggestion = suggestion(question, result.missing[0][0] if result.missing else None)
    return result


def _range(question: Question, found: list[Dataset], now: datetime) -> tuple[date | None, date]:
    """The question's days, open ends closed by what the connector's tasks collected
    (of this stream, whatever their grain) and by today."""
    tomorrow = now.astimezone(UTC).date() + DAY
    every = [day for d in found for kind in d.days for day in kind]
    start = question.start or min(every, default=None)
    end = question.end or (max(every) + DAY if every else tomorrow)
    return start, min(end, tomorrow)


def _runs(wanted: list[date], chosen: list) -> tuple[list[Part], list[tuple[date, date]]]:
    """Consecutive days with the same dataset as one part; days without as gaps."""
    parts, missing = [], []
    run_start = 0
    for i in range(1, len(wanted) + 1):
        if i < len(wanted) and chosen[i] is chosen[run_start]:
            continue
        dataset, first, stop = chosen[run_start], wanted[run_start], wanted[i - 1] + DAY
        if dataset is None:
            missing.append((first, stop))
        else:
            parts.append(Part(dataset, first, stop))
        run_start = i
    return parts, missing


# --- in words -----------------------------------------------------------------------

API_NAMES = {f.column: name for name, f in DIMENSIONS.items()}


def grain_problem(question: Question) -> str:
    what = question.stream.type
    dims = sorted(API_NAMES[c] for c in question.involved)
    if question.task_id is not None:
        return (
            f"That task's {what} rows cannot answer this: it does not group by "
            f"{', '.join(dims) or 'these dimensions'}, or it keeps only some of their values."
        )
    if dims:
        return (
            f"No task collects {what} grouped by {', '.join(dims)} without narrower "
            "filters, so these figures cannot be answered."
        )
    return f"No task collects all of {what} without filters, so totals cannot be answered."


def suggestion(question: Question, from_day: date | None) -> str:
    """The task that would answer the question, in the task form's own words."""
    dims = sorted(API_NAMES[c] for c in question.involved)
    kind = question.stream.type
    text = f"{'An' if kind[0] in 'aeiou' else 'A'} {kind} task"
    if dims:
        text += f" with GROUP BY {', '.join(dims)}"
    if from_day is not None:
        text += f"{' and' if dims else ' with'} START TIME {from_day.isoformat()} or earlier"
    return text + " and no filters would answer it."


def partial_words(answer: Answer) -> str:
    """The days answered in part, as "2026-10-31 14:00–24:00 UTC"."""
    words = []
    for start, end in answer.partial:
        stop = "24:00" if end == midnight(start.date() + DAY) else f"{end:%H:%M}"
        words.append(f"{start:%Y-%m-%d %H:%M}–{stop}")
    return ", ".join(words) + (" UTC" if words else "")


def day_ranges(ranges: list[tuple[date, date]]) -> str:
    """[start, end) day ranges as "2026-11-01 – 2026-11-02, 2026-11-09"."""
    words = []
    for start, end in ranges:
        last = end - DAY
        words.append(start.isoformat() if last == start else f"{start} – {last}")
    return ", ".join(words)
