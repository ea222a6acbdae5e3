"""The application's HolidaySource on the `holidays` package (see infrastructure.holidays)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from application.errors import InvalidHolidaySeed
from infrastructure.holidays import (
    UnknownHolidayCategory,
    UnknownHolidayCountry,
    UnknownHolidaySubdivision,
    library_versions,
    seed_holidays,
)

# Where each refusal points in a calendar request body.
_FIELDS = {
    UnknownHolidayCountry: "holidays.country",
    UnknownHolidaySubdivision: "holidays.subdivision",
    UnknownHolidayCategory: "holidays.categories",
}


class HolidaysPackage:
    def seed(
        self,
        country: str,
        subdivision: str | None,
        categories: Sequence[str],
        years: Iterable[int],
    ) -> list[dict[str, str]]:
        try:
            return seed_holidays(country, subdivision, categories, years)
        except tuple(_FIELDS) as error:
            raise InvalidHolidaySeed(_FIELDS[type(error)], str(error)) from None

    def versions(self) -> dict[str, str | None]:
        return dict(library_versions())
