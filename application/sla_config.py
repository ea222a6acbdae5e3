"""SLA configuration: business calendars (seeded from a holiday source) and the ordered
policy list. Both are event-sourced, so every revision stays on record."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from application.errors import CalendarInUse, CalendarNotFound
from domain.actor import Actor
from domain.calendar import Calendar
from domain.sla import InvalidPolicy, SlaPolicies, SlaPolicy

# Seeded holidays cover this many years from the current one unless the request names years.
DEFAULT_SEED_YEARS = 3


class HolidaySource(Protocol):
    """Public holidays by country (implemented on the `holidays` package)."""

    def seed(
        self,
        country: str,
        subdivision: str | None,
        categories: Sequence[str],
        years: Iterable[int],
    ) -> list[dict[str, str]]:
        """``[{"date": "YYYY-MM-DD", "name": ...}]``; InvalidHolidaySeed when unknown."""
        ...

    def versions(self) -> dict[str, str | None]:
        """``{"tzdata": ..., "holidays": ...}``: what a revision was computed with."""
        ...


class SlaConfiguration:
    """Commands and reads for calendars and policies."""

    def __init__(
        self, app: Any, holidays: HolidaySource, clock: Callable[[], datetime] | None = None
    ):
        self.app = app
        self.holidays = holidays
        self.clock = clock or (lambda: datetime.now(UTC))

    # Calendars

    def put_calendar(self, name: str, spec: dict[str, Any], actor: Actor) -> Calendar:
        """Create the calendar or record a new revision of it (a no-op when unchanged)."""
        seed = spec.get("holidays")
        versions = self.holidays.versions()
        revision = {
            "name": name,
            "timezone": spec["timezone"],
            "always_open": spec.get("always_open", False),
            "weekly": spec.get("weekly", {}),
            "closures": spec.get("closures", []),
            "holidays": self._seeded(seed) if seed else [],
            "seed": _seed_record(seed) if seed else None,
            "tzdata_version": versions.get("tzdata"),
            "holidays_version": versions.get("holidays"),
        }
        existing = self.app.sla.find_calendar(name)
        if existing is None:
            calendar = Calendar.create(actor=actor, **revision)
        else:
            calendar = existing
            calendar.revise(actor=actor, **revision)
        if calendar.pending_events:
            self.app.save(calendar)
        return calendar

    def delete_calendar(self, name: str, actor: Actor) -> None:
        calendar = self.app.sla.calendar(name)
        policies = self.app.sla.policies()
        users = [p["name"] for p in policies.policies if p["calendar"] == name] if policies else []
        if users:
            raise CalendarInUse(name, users)
        calendar.delete(actor)
        self.app.save(calendar)

    def _seeded(self, seed: dict[str, Any]) -> list[dict[str, str]]:
        this_year = self.clock().year
        years = seed.get("years") or range(this_year, this_year + DEFAULT_SEED_YEARS)
        return self.holidays.seed(
            seed["country"], seed.get("subdivision"), seed.get("categories") or ["public"], years
        )

    # Policies

    def replace_policies(self, policies: Sequence[SlaPolicy], actor: Actor) -> SlaPolicies:
        for i, policy in enumerate(policies):
            try:
                self.app.sla.calendar(policy.calendar)
            except CalendarNotFound:
                raise InvalidPolicy(
                    f"policies[{i}].calendar", f"unknown calendar {policy.calendar!r}"
                ) from None
        current = self.app.sla.policies() or SlaPolicies(actor=actor)
        current.replace(policies, actor)
        if current.pending_events:
            self.app.save(current)
        return current


def _seed_record(seed: dict[str, Any]) -> dict[str, Any]:
    return {
        "country": seed["country"],
        "subdivision": seed.get("subdivision"),
        "categories": list(seed.get("categories") or ["public"]),
    }
