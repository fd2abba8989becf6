"""Usage as a pure function of (seed, series, minute), summed into buckets quickly.

The day is the primitive: a series' day totals come from its rates and the seed. A day is
split into hours, and an hour into minutes, by integer cumulative weights C:

    value of [a, b) = floor(T * C[b] / W) - floor(T * C[a] / W),  W = C[end]

Any partition of a period therefore sums exactly to its total, so 1d = sum(1h) = sum(1m)
for every bucket, grouping and filter, and a bucket boundary anywhere (17:31) still sums
right. Minutes younger than the finality window are reported at a fraction of their
final value (`completeness`), and ranges are only split down to minutes where needed.
"""

from __future__ import annotations

from itertools import accumulate
from operator import add

from connectors.openai.emulator.catalog import DAY, HOUR, MINUTE, RHYTHM, recipe_for
from connectors.openai.emulator.mix import h64, unit
from connectors.openai.emulator.org import Org
from connectors.openai.emulator.series import Series, build_series
from connectors.openai.streams import UsageStream

PPM = 1_000_000
_STRIDES = (1, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 49, 53, 59)  # coprime with 60
_CACHE_LIMITS = {"days": 4096, "cums": 4096, "minutes": 256}


def completeness(age: int, finality: int) -> int:
    """The share (ppm) of a minute's final value reported `age` seconds after it ended."""
    if age >= finality:
        return PPM
    if age < 0:
        return 0
    return 550_000 + 450_000 * age // finality


class StreamData:
    """One stream of one organization: its series and memoised day, hour and minute tables."""

    def __init__(self, org: Org, stream: UsageStream) -> None:
        self.stream = stream
        self.recipe = recipe_for(stream)
        self.series: tuple[Series, ...] = build_series(org, stream)
        self._cache: dict[str, dict] = {name: {} for name in _CACHE_LIMITS}

    def day(self, day: int) -> list[tuple[int, ...] | None]:
        """Each series' totals for the day (None: idle)."""
        return self._memo("days", day, lambda: [_day_vector(s, day) for s in self.series])

    def cums(self, day: int) -> list[list[int] | None]:
        """Each series' cumulative hour weights for the day (25 integers)."""
        vectors = self.day(day)
        return self._memo(
            "cums",
            day,
            lambda: [
                _hour_cum(s, day) if v else None for s, v in zip(self.series, vectors, strict=True)
            ],
        )

    def hour(self, index: int, hour: int) -> list[int] | None:
        """One series' totals for one hour."""
        day, within = divmod(hour, 24)
        vec = self.day(day)[index]
        if vec is None:
            return None
        cum = self.cums(day)[index]
        low, high, total = cum[within], cum[within + 1], cum[24]
        return None if low == high else [t * high // total - t * low // total for t in vec]

    def minutes(self, hour: int) -> list[list[int] | None]:
        """Each series' cumulative minute weights for the hour (61 integers)."""
        return self._memo("minutes", hour, lambda: self._split_hour(hour))

    def _memo(self, name: str, key: int, compute):
        cache = self._cache[name]
        found = cache.get(key)
        if found is None:
            if len(cache) >= _CACHE_LIMITS[name]:
                cache.clear()
            found = cache[key] = compute()
        return found

    def _split_hour(self, hour: int) -> list[list[int] | None]:
        found: list[list[int] | None] = []
        for index, series in enumerate(self.series):
            vec = self.hour(index, hour)
            found.append(None if vec is None else _minute_cum(series, hour, vec[0]))
        return found


def _window(series: Series, day_start: int) -> tuple[int, int]:
    """The hours of the day during which the series exists."""
    low = max(0, (series.start - day_start) // HOUR)
    high = 24 if series.end is None else min(24, (series.end - day_start) // HOUR)
    return low, high


def _hour_cum(series: Series, day: int) -> list[int]:
    low, high = _window(series, day * DAY)
    bits = h64(series.key, day, 1) | h64(series.key, day, 2) << 64 | h64(series.key, day, 3) << 128
    cum, total = [0], 0
    for hour in range(24):
        byte = bits >> (8 * hour) & 0xFF
        if low <= hour < high and byte >= 12:  # about 5% of hours are idle
            total += RHYTHM[(hour + series.tz) % 24] * (64 + byte)
        cum.append(total)
    return cum


def _day_vector(series: Series, day: int) -> tuple[int, ...] | None:
    start = day * DAY
    if series.start >= start + DAY or (series.end is not None and series.end <= start):
        return None
    if unit(h64(series.key, day // 7, 77)) < series.idle_week:
        return None
    h = h64(series.key, day)
    if h & 0xFF < 10:  # an idle day
        return None
    low, high = _window(series, start)
    if _hour_cum(series, day)[24] == 0:
        return None
    level = series.base * (series.weekend if (day + 3) % 7 >= 5 else 1.0)
    level *= (0.7 + 0.6 * unit(h)) * (high - low) / 24
    level *= max(0.05, 1 + series.growth * (start - series.start) / (365 * DAY))
    if h >> 8 & 0xFF < 8:  # a burst
        level *= 3 + (h >> 16) % 8
    driver = int(level)
    if driver <= 0:
        return None
    noise = h64(series.key, day, 9)
    rest = [
        int(driver * mean * (0.85 + 0.3 * _noise(noise, j))) for j, mean in enumerate(series.means)
    ]
    return (driver, *rest)


def _noise(bits: int, j: int) -> float:
    if j >= 10:
        return unit(h64(bits, j))
    return (bits >> (6 * j) & 63) / 63


def _minute_cum(series: Series, hour: int, driver: int) -> list[int]:
    """Cumulative minute weights: `driver // 2` active minutes, so each gets a request."""
    active = max(1, min(60, driver // 2))
    h = h64(series.key, hour, 5)
    position, stride = h % 60, _STRIDES[h >> 6 & 15]
    bits = h64(series.key, hour, 6) | h64(series.key, hour, 7) << 64
    weights = [0] * 60
    for j in range(active):
        weights[position] = 4 + (bits >> (2 * j) & 3)
        position = (position + stride) % 60
    return list(accumulate(weights, initial=0))


def aggregate(
    data: StreamData, picks: list[tuple[int, object]], edges: list[int], now: int, finality: int
) -> list[dict[object, list[int]]]:
    """Sum the picked series into buckets.

    picks: (series index, group key). edges: bucket boundaries in minutes; bucket i is
    [edges[i], edges[i + 1]). Returns, per bucket, group key -> leaf totals.
    """
    final_before = (now - finality) // MINUTE
    ended_before = now // MINUTE
    days: list[tuple[int, int]] = []
    hours: list[tuple[int, int, int, int]] = []
    spans: dict[int, list[tuple[int, int, int]]] = {}
    for i in range(len(edges) - 1):
        end = min(edges[i + 1], ended_before)
        _decompose(edges[i], end, i, final_before, days, hours, spans)
    acc: list[dict] = [{} for _ in range(len(edges) - 1)]
    for day, i in days:
        table = data.day(day)
        for index, key in picks:
            if table[index] is not None:
                _add(acc[i], key, table[index])
    for day, low, high, i in hours:
        _add_hours(data, picks, day, low, high, acc[i])
    for hour, hour_spans in spans.items():
        _add_minutes(data, picks, hour, hour_spans, acc, now, finality, final_before)
    return acc


def _decompose(start, end, i, final_before, days, hours, spans) -> None:
    """Cut [start, end) minutes into final days, runs of final hours and minute spans."""
    m = start
    limit = min(end, final_before)
    while m < end:
        if m % 1440 == 0 and m + 1440 <= limit:
            days.append((m // 1440, i))
            m += 1440
        elif m % 60 == 0 and m + 60 <= limit:
            day = m // 1440
            stop = m + (min(limit, day * 1440 + 1440) - m) // 60 * 60
            hours.append((day, m // 60 - day * 24, stop // 60 - day * 24, i))
            m = stop
        else:
            hour = m // 60
            high = min(end, hour * 60 + 60)
            spans.setdefault(hour, []).append((m - hour * 60, high - hour * 60, i))
            m = high


def _add_hours(data: StreamData, picks, day: int, low: int, high: int, bucket: dict) -> None:
    vectors, cums = data.day(day), data.cums(day)
    for index, key in picks:
        vec = vectors[index]
        if vec is None:
            continue
        cum = cums[index]
        start, stop, total = cum[low], cum[high], cum[24]
        if start != stop:
            _add(bucket, key, [t * stop // total - t * start // total for t in vec])


def _add_minutes(data, picks, hour, spans, acc, now, finality, final_before) -> None:
    cums = data.minutes(hour)
    final_in_hour = final_before - hour * 60
    for index, key in picks:
        cum = cums[index]
        if cum is None:
            continue
        vec, total = data.hour(index, hour), cum[60]
        for low, high, i in spans:
            split = min(high, max(low, final_in_hour))
            if cum[split] != cum[low]:
                _add(acc[i], key, [t * cum[split] // total - t * cum[low] // total for t in vec])
            for m in range(split, high):
                if cum[m + 1] == cum[m]:
                    continue
                share = completeness(now - (hour * 60 + m + 1) * MINUTE, finality)
                part = [(t * cum[m + 1] // total - t * cum[m] // total) * share // PPM for t in vec]
                _add(acc[i], key, part)


def _add(bucket: dict, key: object, vec) -> None:
    found = bucket.get(key)
    bucket[key] = list(vec) if found is None else list(map(add, found, vec))
