"""Holiday seed data from the `holidays` package, to be copied into calendar revisions.

A revision keeps the dates it was seeded with, so a later `holidays` release that moves a date
changes nothing until someone revises the calendar; library_versions() records which data
(holidays release, IANA tz release) a revision was made with.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import holidays
import tzdata


def seed_holidays(
    country: str, subdivision: str | None, categories: Sequence[str], years: Iterable[int]
) -> list[dict[str, str]]:
    """Every holiday of `country` (and `subdivision`) in `years`, as {"date", "name"} sorted by
    date; names in the country's own language. No categories means the package's default
    ("public")."""
    entity = _entity(country)
    if subdivision is not None and subdivision not in _subdivisions(entity):
        raise UnknownHolidaySubdivision(country, subdivision)
    for category in categories:
        if category not in entity.supported_categories:
            raise UnknownHolidayCategory(category)
    table = entity(
        subdiv=subdivision,
        years=sorted(set(years)),
        categories=tuple(categories) or None,
        # Without a language the package follows the process locale: seeds would then differ
        # between a shell and a service.
        language=entity.default_language,
    )
    return [
        {"date": day.isoformat(), "name": name}
        for day in sorted(table)
        for name in table.get_list(day)
    ]


def library_versions() -> dict[str, str]:
    """The holidays release and the IANA tz release that zoneinfo actually reads."""
    return {"tzdata": _tz_release(), "holidays": version("holidays")}


def _entity(country: str) -> Any:
    if country not in holidays.list_supported_countries():
        raise UnknownHolidayCountry(country)
    return getattr(holidays, country)


def _subdivisions(entity: Any) -> set[str]:
    return {*entity.subdivisions, *entity.subdivisions_aliases}


def _tz_release() -> str:
    # zoneinfo prefers the system's zone files (TZPATH) to the tzdata package, so the
    # package's version only tells the truth when no system directory is there.
    for directory in map(Path, zoneinfo.TZPATH):
        if directory.is_dir():
            return _release_in(directory / "tzdata.zi")
    return tzdata.IANA_VERSION


def _release_in(source: Path) -> str:
    """The release named on the first line of tzdata.zi ("# version 2025b")."""
    try:
        with source.open(encoding="utf-8") as lines:
            first = lines.readline()
    except OSError:
        return f"unknown (system zone files in {source.parent})"
    return first.removeprefix("# version").strip() or f"unknown ({source})"


class UnknownHolidaySeed(Exception):
    """The seed names something the holidays package does not know."""


class UnknownHolidayCountry(UnknownHolidaySeed):
    def __init__(self, country: str):
        super().__init__(f"the holidays package knows no country {country!r}")
        self.country = country


class UnknownHolidaySubdivision(UnknownHolidaySeed):
    def __init__(self, country: str, subdivision: str):
        super().__init__(f"the holidays package knows no subdivision {subdivision!r} of {country}")
        self.country = country
        self.subdivision = subdivision


class UnknownHolidayCategory(UnknownHolidaySeed):
    def __init__(self, category: str):
        super().__init__(
            f"the holidays package offers no holiday category {category!r} for that country"
        )
        self.category = category
