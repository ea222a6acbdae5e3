"""Business-time arithmetic: deadlines and elapsed time counted only in a calendar's open hours.

An instant is open when its local wall-clock reading (in the calendar's zone) falls inside an
open interval of its local date: that weekday's intervals minus the date's closures. Intervals
are half-open, [start, end), so a closing instant is not itself open. Daylight-saving time
follows from that one definition: wall-clock times inside a spring-forward gap never occur, so
an interval starting in the gap opens when the gap ends; times in a fall-back overlap occur
twice, so an interval covering them is open for the real elapsed time (a 00:00-24:00 day in
America/Santiago lasts 23 h on 2024-09-08 and 25 h on 2024-04-06).

Rules at the edges, chosen so that business_seconds_between(s, due_at(s, n)) == n for n >= 0:
- inputs must be timezone-aware (any zone) and are truncated to the whole second; results are UTC;
- time started outside open hours counts from the next opening, so due_at(s, 0) is s itself
  when s is open and the next opening otherwise;
- a deadline that uses up the last second of an interval is that interval's closing instant;
- business_seconds_between(a, b) is 0 when b <= a: never negative.

The arithmetic assumes each local date's instants come in one stretch, in date order; that
holds wherever clocks go back no further than the previous midnight, as in every zone served.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Interval = tuple[int, int]
Intervals = tuple[Interval, ...]

DAY = 86_400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_SECOND = timedelta(seconds=1)
# Wider than any UTC offset tzdata has ever used (local mean times included), so the window
# searched for a date's instants always contains all of them.
_WIDEST_OFFSET = 16 * 3600
# A calendar with no opening for this long is taken to have none at all.
_IDLE_DAYS_LIMIT = 3 * 366


class Closures(Mapping[date, Intervals]):
    """An immutable, hashable mapping of local dates to the intervals closed on them."""

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[date, Iterable[Interval]] | None = None) -> None:
        self._items = {
            _local_date(day): _normalised(closed, f"closures[{day}]")
            for day, closed in (items or {}).items()
        }
        self._hash = hash(frozenset(self._items.items()))

    def __getitem__(self, day: date) -> Intervals:
        return self._items[day]

    def __iter__(self) -> Iterator[date]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Closures):
            return self._items == other._items
        return super().__eq__(other)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Closures({self._items!r})"


@dataclass(frozen=True)
class BusinessHours:
    """What the arithmetic needs of a calendar revision.

    `weekly` holds 7 days, Monday first, each a tuple of (start, end) seconds since local
    midnight; `closures` maps local dates to closed intervals (a full-day holiday is
    ((0, 86400),)). Both are normalised (sorted, overlaps merged); `always_open` ignores them.
    """

    timezone: str
    weekly: tuple[Intervals, ...]
    closures: Mapping[date, Intervals] = field(default_factory=Closures)
    always_open: bool = False
    zone: ZoneInfo = field(init=False, repr=False, compare=False)
    # Hashed once: every day looked up in the caches below hashes the hours again.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise ValueError(f"weekly needs 7 days, Monday first; got {len(self.weekly)}")
        weekly = tuple(_normalised(day, f"weekly[{i}]") for i, day in enumerate(self.weekly))
        closures = self.closures if isinstance(self.closures, Closures) else Closures(self.closures)
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(self, "closures", closures)
        object.__setattr__(self, "zone", _zone(self.timezone))
        object.__setattr__(self, "_hash", hash((self.timezone, weekly, closures, self.always_open)))

    def __hash__(self) -> int:
        return self._hash


def due_at(start: datetime, seconds: int, hours: BusinessHours) -> datetime:
    """The instant by which `seconds` of open time have passed since `start` (UTC)."""
    if seconds < 0:
        raise ValueError(f"a target cannot be negative, got {seconds}")
    instant = _epoch_seconds(start)
    if hours.always_open:
        return _utc(instant + seconds)
    remaining = seconds
    for first, end in _open_spans_from(hours, instant):
        if end - first >= remaining:
            return _utc(first + remaining)
        remaining -= end - first
    raise ValueError(f"the calendar has no open time in the {_IDLE_DAYS_LIMIT} days after {start}")


def business_seconds_between(a: datetime, b: datetime, hours: BusinessHours) -> int:
    """Open seconds in [a, b); 0 when b is not after a."""
    first, last = _epoch_seconds(a), _epoch_seconds(b)
    if last <= first:
        return 0
    if hours.always_open:
        return last - first
    total = 0
    for ordinal in range(_local_ordinal(first, hours), _local_ordinal(last, hours) + 1):
        for start, end in _open_spans(hours, ordinal):
            total += max(0, min(end, last) - max(start, first))
    return total


def _open_spans_from(hours: BusinessHours, instant: int) -> Iterator[Interval]:
    """Open spans (epoch seconds) from `instant` on, the first one clipped to begin there;
    ends once no day has opened for _IDLE_DAYS_LIMIT days."""
    ordinal = _local_ordinal(instant, hours)
    idle_days = 0
    while idle_days < _IDLE_DAYS_LIMIT:
        spans = _open_spans(hours, ordinal)
        idle_days = 0 if spans else idle_days + 1
        for first, end in spans:
            if end > instant:
                yield max(first, instant), end
        ordinal += 1


@lru_cache(maxsize=65_536)
def _open_spans(hours: BusinessHours, ordinal: int) -> Intervals:
    """One local date's open time as ordered, disjoint spans of epoch seconds."""
    opened = _local_open(hours, date.fromordinal(ordinal))
    if not opened:
        return ()
    midnight = (ordinal - _EPOCH_ORDINAL) * DAY
    spans = sorted(
        (max(first, midnight - offset + start), min(end, midnight - offset + stop))
        for first, end, offset in _date_pieces(hours.zone, ordinal)
        for start, stop in opened
    )
    return _merged(span for span in spans if span[0] < span[1])


def _local_open(hours: BusinessHours, day: date) -> Intervals:
    weekly = hours.weekly[day.weekday()]
    closed = hours.closures.get(day)
    return _subtract(weekly, closed) if weekly and closed else weekly


@lru_cache(maxsize=16_384)
def _date_pieces(zone: ZoneInfo, ordinal: int) -> tuple[tuple[int, int, int], ...]:
    """The stretches [first, end) of epoch seconds whose local date is this one, each with its
    UTC offset: one stretch on most days, two when the offset changes during the date."""
    midnight = (ordinal - _EPOCH_ORDINAL) * DAY
    low, high = midnight - _WIDEST_OFFSET, midnight + DAY + _WIDEST_OFFSET
    pieces = []
    for first, end in pairwise([low, *_offset_changes(zone, low, high), high]):
        offset = _offset(zone, first)
        local_first, local_end = max(first, midnight - offset), min(end, midnight + DAY - offset)
        if local_first < local_end:
            pieces.append((local_first, local_end, offset))
    return tuple(pieces)


def _offset_changes(zone: ZoneInfo, low: int, high: int) -> list[int]:
    """Instants in (low, high] where the UTC offset changes, found by bisection (an offset
    that changes and changes back within the window is missed; tzdata has none so close)."""
    before = _offset(zone, low)
    if _offset(zone, high) == before:
        return []
    unchanged, changed = low, high
    while changed - unchanged > 1:
        middle = (unchanged + changed) // 2
        if _offset(zone, middle) == before:
            unchanged = middle
        else:
            changed = middle
    return [changed, *_offset_changes(zone, changed, high)]


def _offset(zone: ZoneInfo, instant: int) -> int:
    moment = datetime.fromtimestamp(instant, zone)
    return moment.utcoffset() // _SECOND


def _subtract(opened: Intervals, closed: Intervals) -> Intervals:
    remaining = []
    for start, end in opened:
        for closed_start, closed_end in closed:
            if closed_end <= start or closed_start >= end:
                continue
            if closed_start > start:
                remaining.append((start, closed_start))
            start = closed_end
        if start < end:
            remaining.append((start, end))
    return tuple(remaining)


def _merged(intervals: Iterable[Interval]) -> Intervals:
    """Sorted intervals with overlapping and touching ones joined."""
    merged: list[Interval] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def _normalised(intervals: Iterable[Interval], where: str) -> Intervals:
    checked = []
    for start, end in intervals:
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= DAY):
            raise ValueError(f"{where}: ({start}, {end}) is not 0 <= start < end <= {DAY}")
        checked.append((start, end))
    return _merged(sorted(checked))


def _local_date(day: object) -> date:
    # A datetime is a date too, but would never equal the date keys looked up.
    if not isinstance(day, date) or isinstance(day, datetime):
        raise ValueError(f"closures are keyed by date, got {day!r}")
    return day


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _epoch_seconds(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment} has no time zone; business time needs an aware datetime")
    return (moment - _EPOCH) // _SECOND


def _local_ordinal(instant: int, hours: BusinessHours) -> int:
    return datetime.fromtimestamp(instant, hours.zone).toordinal()


def _utc(instant: int) -> datetime:
    return datetime.fromtimestamp(instant, UTC)
