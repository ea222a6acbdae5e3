"""SLA configuration: business calendars (seeded from a holiday source) and the ordered
policy list. Both are event-sourced, so every revision stays on record."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from application.errors import (
    CalendarInUse,
    CalendarNotFound,
    StaleVersion,
)
from application.ports import ConfiguresSla
from application.retries import Save, save_with_retries
from domain.actor import Actor
from domain.calendar import Calendar, calendar_id
from domain.sla.policy import InvalidPolicy, SlaPolicies, SlaPolicy

# Seeded holidays cover this many years from the current one unless the request names years.
DEFAULT_SEED_YEARS = 3
# Two admins saving at once: the loser re-reads and tries again (without If-Match, the
# last write wins, as it did before If-Match existed).
CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class IfMatch:
    """A PUT's ``If-Match``: ``version`` is the ETag it names, None for ``*`` (whatever
    version is current, as long as there is one)."""

    version: int | None = None


class PreconditionFailed(StaleVersion):
    """If-Match named a version that is not the current one (or there is none)."""

    def __init__(self, what: str, expected: int | None, current: int | None):
        super().__init__(expected, current)  # type: ignore[arg-type]
        now = f"it is at version {current}" if current is not None else "it does not exist"
        asked = "any version" if expected is None else f"version {expected}"
        self.args = (f"If-Match asked for {asked} of {what}; {now}.",)


class RevisionNotFound(CalendarNotFound):
    def __init__(self, name: str, revision: int, newest: int):
        super().__init__(name)
        self.args = (f"calendar {name!r} has no revision {revision} (its newest is {newest})",)


def check_precondition(if_match: IfMatch | None, what: str, current: int | None) -> None:
    """Nothing asked (no If-Match) passes; ``*`` needs something current; a version
    must be the current one."""
    if if_match is None:
        return
    if current is None or (if_match.version is not None and if_match.version != current):
        raise PreconditionFailed(what, if_match.version, current)


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
        self,
        app: ConfiguresSla,
        holidays: HolidaySource,
        clock: Callable[[], datetime] | None = None,
    ):
        self.app = app
        self.holidays = holidays
        self.clock = clock or (lambda: datetime.now(UTC))

    # Calendars

    def put_calendar(
        self, name: str, spec: dict[str, Any], actor: Actor, if_match: IfMatch | None = None
    ) -> Calendar:
        """Create the calendar or record a new revision of it (a no-op when unchanged).
        A deleted calendar counts as absent for ``if_match``."""
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

        def revised() -> Calendar:
            existing = self.app.sla.find_calendar(name)
            current = existing.version if existing and not existing.deleted else None
            check_precondition(if_match, f"calendar {name!r}", current)
            if existing is None:
                return Calendar.create(actor=actor, **revision)
            existing.revise(actor=actor, **revision)
            return existing

        return self._saved_unless_raced(f"calendar {name!r}", revised)

    def calendar_revision(self, name: str, revision: int) -> Calendar:
        """The calendar as its ``revision``-th revision (1 is its creation) left it.
        Deleted calendars' revisions stay readable: timers were counted in them."""
        versions = [
            e.originator_version
            for e in self.app.events.get(calendar_id(name))
            if isinstance(e, Calendar.Created | Calendar.Revised)
        ]
        if not versions:
            raise CalendarNotFound(name)
        if revision > len(versions):
            raise RevisionNotFound(name, revision, len(versions))
        return self.app.repository.get(calendar_id(name), version=versions[revision - 1])

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

    def replace_policies(
        self, policies: Sequence[SlaPolicy], actor: Actor, if_match: IfMatch | None = None
    ) -> SlaPolicies:
        """The list always exists for ``if_match``: at version 0 before the first save."""
        for i, policy in enumerate(policies):
            try:
                self.app.sla.calendar(policy.calendar)
            except CalendarNotFound:
                raise InvalidPolicy(
                    f"policies[{i}].calendar", f"unknown calendar {policy.calendar!r}"
                ) from None

        def revised() -> SlaPolicies:
            found = self.app.sla.policies()
            check_precondition(if_match, "the SLA policies", found.version if found else 0)
            current = found or SlaPolicies(actor=actor)
            current.replace(policies, actor)
            return current

        return self._saved_unless_raced("the SLA policies", revised)

    def _saved_unless_raced(self, what: str, revised: Callable[[], Any]) -> Any:
        """Save what ``revised`` makes of the latest version (nothing when it changed
        nothing); when another admin saved first, look again: If-Match then fails, and
        without it the change applies to what they saved."""

        def attempt() -> Any:
            aggregate = revised()
            if not aggregate.pending_events:
                return aggregate

            def write() -> Any:
                self.app.save(aggregate)
                return aggregate

            return Save(write)

        return save_with_retries(attempt, what=what, retries=CONFLICT_RETRIES)


def _seed_record(seed: dict[str, Any]) -> dict[str, Any]:
    return {
        "country": seed["country"],
        "subdivision": seed.get("subdivision"),
        "categories": list(seed.get("categories") or ["public"]),
    }
