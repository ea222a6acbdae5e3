"""The Calendar aggregate: a team's business hours, holidays and closures, kept as revisions.

Every revision is whole (name, timezone, always_open, weekly, holidays, closures, seed and the
tzdata / holidays versions it was made with) and stored as plain JSON types. Rules:
- create through Calendar.create(...), which checks the revision first; events only apply state;
- revise() with nothing changed records nothing; a calendar keeps its name (its id derives from it);
- delete() records "Deleted"; revise() on a deleted calendar brings it back, because the
  name-derived id cannot be created a second time.
InvalidCalendar.field is a dotted path, keys joined by dots and list positions (from 0) in
brackets: "timezone", "weekly.monday[1].end", "holidays[3].date", "closures[0].start",
"seed.categories[1]". Weekly days are lower-case English names; a day left out is closed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from itertools import pairwise
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.sla.business_time import DAY, BusinessHours

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
REVISION_FIELDS = (
    "name",
    "timezone",
    "always_open",
    "weekly",
    "holidays",
    "closures",
    "seed",
    "tzdata_version",
    "holidays_version",
)
_CLOCK = re.compile(r"(\d\d):(\d\d)")
_ISO_DATE = re.compile(r"\d{4}-\d\d-\d\d")


def calendar_id(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/calendars/{name}")


def parse_clock(text: str) -> int:
    """'HH:MM' as seconds since local midnight; '24:00' (the end of the day) is 86400."""
    match = _CLOCK.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError("must be HH:MM")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59:
        raise ValueError("must be HH:MM")
    seconds = hours * 3600 + minutes * 60
    if seconds > DAY:
        raise ValueError("must be at most 24:00")
    return seconds


class Calendar(Aggregate):
    """A team's business hours, holidays and closures, revised as a whole."""

    @staticmethod
    def create_id(name: str, **_: Any) -> UUID:
        return calendar_id(name)

    @classmethod
    def create(cls, *, actor: Actor, **revision: Any) -> Calendar:
        """A new calendar; `revision` takes the keywords of check_revision()."""
        return cls(**check_revision(**revision), actor=actor)

    @event("Created")
    def __init__(
        self,
        name: str,
        timezone: str,
        always_open: bool,
        weekly: dict[str, list[list[str]]],
        holidays: list[dict[str, str]],
        closures: list[dict[str, str | None]],
        seed: dict[str, Any] | None,
        tzdata_version: str | None,
        holidays_version: str | None,
        actor: Actor,
    ):
        self._take(locals())  # the parameters are the revision's fields
        self.revision = 1
        self.deleted = False

    def revise(self, *, actor: Actor, **revision: Any) -> None:
        """Record `revision` (the keywords of check_revision()) unless nothing changed."""
        checked = check_revision(**revision)
        if checked["name"] != self.name:
            raise InvalidCalendar("name", f"a calendar keeps its name, {self.name!r}")
        if self.deleted or checked != self.current_revision():
            self._revised(**checked, actor=actor)

    def delete(self, actor: Actor) -> None:
        if not self.deleted:
            self._deleted(actor=actor)

    def current_revision(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in REVISION_FIELDS}

    def business_hours(self) -> BusinessHours:
        """The arithmetic's view of this revision: holidays become full-day closures."""
        weekly = tuple(
            tuple((parse_clock(start), parse_clock(end)) for start, end in self.weekly.get(day, ()))
            for day in DAYS
        )
        return BusinessHours(self.timezone, weekly, self._closed_dates(), self.always_open)

    def _closed_dates(self) -> dict[date, list[tuple[int, int]]]:
        closed: dict[date, list[tuple[int, int]]] = {}
        for holiday in self.holidays:
            closed.setdefault(date.fromisoformat(holiday["date"]), []).append((0, DAY))
        for closure in self.closures:
            start, end = _closure_seconds(closure)
            closed.setdefault(date.fromisoformat(closure["date"]), []).append((start, end))
        return closed

    def _take(self, values: Mapping[str, Any]) -> None:
        for name in REVISION_FIELDS:
            setattr(self, name, values[name])

    # Events: these run on every replay, so they only apply state, never check rules.

    @event("Revised")
    def _revised(
        self,
        name: str,
        timezone: str,
        always_open: bool,
        weekly: dict[str, list[list[str]]],
        holidays: list[dict[str, str]],
        closures: list[dict[str, str | None]],
        seed: dict[str, Any] | None,
        tzdata_version: str | None,
        holidays_version: str | None,
        actor: Actor,
    ) -> None:
        self._take(locals())
        self.revision += 1
        self.deleted = False

    @event("Deleted")
    def _deleted(self, actor: Actor) -> None:
        self.deleted = True


def check_revision(
    *,
    name: str,
    timezone: str,
    weekly: Mapping[str, Sequence[Sequence[str]]],
    tzdata_version: str | None,
    holidays_version: str | None,
    always_open: bool = False,
    holidays: Sequence[Mapping[str, str]] = (),
    closures: Sequence[Mapping[str, str | None]] = (),
    seed: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A revision checked and normalised to plain JSON types, or InvalidCalendar."""
    return {
        "name": _text(name, "name"),
        "timezone": _timezone(timezone),
        "always_open": _flag(always_open, "always_open"),
        "weekly": _weekly(weekly),
        "holidays": _each(holidays, "holidays", _holiday),
        "closures": _each(closures, "closures", _closure),
        "seed": None if seed is None else _seed(seed),
        "tzdata_version": _optional_text(tzdata_version, "tzdata_version"),
        "holidays_version": _optional_text(holidays_version, "holidays_version"),
    }


def _weekly(weekly: Mapping[str, Sequence[Sequence[str]]]) -> dict[str, list[list[str]]]:
    if not isinstance(weekly, Mapping):
        raise InvalidCalendar("weekly", "must map day names to lists of [start, end]")
    for day in weekly:
        if day not in DAYS:
            raise InvalidCalendar(f"weekly.{day}", f"must be one of {', '.join(DAYS)}")
    return {day: _day(weekly[day], f"weekly.{day}") for day in DAYS if weekly.get(day)}


def _day(intervals: Sequence[Sequence[str]], path: str) -> list[list[str]]:
    """One day's [start, end] pairs, sorted; overlaps are refused, touching ones allowed."""
    parsed = []
    for i, pair in enumerate(_list(intervals, path)):
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise InvalidCalendar(f"{path}[{i}]", "must be [start, end]")
        start = _clock(pair[0], f"{path}[{i}].start")
        end = _clock(pair[1], f"{path}[{i}].end")
        if start >= end:
            raise InvalidCalendar(f"{path}[{i}].end", "must be after start")
        parsed.append((start, end, i, [pair[0], pair[1]]))
    parsed.sort()
    for before, after in pairwise(parsed):
        if after[0] < before[1]:
            raise InvalidCalendar(f"{path}[{after[2]}]", f"overlaps {path}[{before[2]}]")
    return [pair for *_, pair in parsed]


def _holiday(holiday: Mapping[str, str], path: str) -> dict[str, str]:
    _mapping(holiday, path)
    return {
        "date": _iso_date(holiday.get("date"), f"{path}.date"),
        "name": _text(holiday.get("name"), f"{path}.name"),
    }


def _closure(closure: Mapping[str, str | None], path: str) -> dict[str, str | None]:
    _mapping(closure, path)
    checked = {
        "date": _iso_date(closure.get("date"), f"{path}.date"),
        "start": closure.get("start"),
        "end": closure.get("end"),
        "reason": closure.get("reason") or "",
    }
    if not isinstance(checked["reason"], str):
        raise InvalidCalendar(f"{path}.reason", "must be a string")
    for edge in ("start", "end"):
        if checked[edge] is not None:
            _clock(checked[edge], f"{path}.{edge}")
    start, end = _closure_seconds(checked)
    if start >= end:
        raise InvalidCalendar(f"{path}.end", "must be after start")
    return checked


def _closure_seconds(closure: Mapping[str, str | None]) -> tuple[int, int]:
    """A closure's local seconds; a missing edge is that edge of the day."""
    start, end = closure["start"], closure["end"]
    return (0 if start is None else parse_clock(start), DAY if end is None else parse_clock(end))


def _seed(seed: Mapping[str, Any]) -> dict[str, Any]:
    _mapping(seed, "seed")
    return {
        "country": _text(seed.get("country"), "seed.country"),
        "subdivision": _optional_text(seed.get("subdivision"), "seed.subdivision"),
        "categories": _each(seed.get("categories", []), "seed.categories", _text),
    }


def _clock(value: Any, path: str) -> int:
    try:
        return parse_clock(value)
    except ValueError as error:
        raise InvalidCalendar(path, str(error)) from None


def _timezone(name: object) -> str:
    text = _text(name, "timezone")
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidCalendar("timezone", f"unknown time zone {text!r}") from None
    return text


def _iso_date(value: object, path: str) -> str:
    text = _text(value, path)
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidCalendar(path, "must be a date, YYYY-MM-DD") from None


def _text(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCalendar(path, "must be a non-empty string")
    return value


def _optional_text(value: object, path: str) -> str | None:
    return None if value is None else _text(value, path)


def _flag(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidCalendar(path, "must be true or false")
    return value


def _list(value: object, path: str) -> list[Any]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidCalendar(path, "must be a list")
    return list(value)


def _each(values: object, path: str, check: Callable[[Any, str], Any]) -> list[Any]:
    return [check(value, f"{path}[{i}]") for i, value in enumerate(_list(values, path))]


def _mapping(value: object, path: str) -> None:
    if not isinstance(value, Mapping):
        raise InvalidCalendar(path, "must be an object")


class InvalidCalendar(Exception):
    """A calendar revision broke a rule; `field` names where, as a dotted path."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
