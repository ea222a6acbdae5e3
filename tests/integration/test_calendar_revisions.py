"""Calendar revisions read back as they were, and If-Match on calendar and policy writes,
on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from application.errors import CalendarNotFound
from application.sla_config import IfMatch, PreconditionFailed, RevisionNotFound
from domain.actor import Actor
from domain.calendar import calendar_id
from domain.sla.policy import POLICIES_ID, SlaPolicy

ADMIN = Actor(id="admin-token", name="root", role="admin")
OTHER_ADMIN = Actor(id="admin-2", name="second", role="admin")
ALWAYS = {"timezone": "UTC", "always_open": True}
OFFICE = {"timezone": "Europe/Lisbon", "weekly": {"monday": [["09:00", "17:00"]]}}
LATE = {"timezone": "Europe/Lisbon", "weekly": {"monday": [["10:00", "19:00"]]}}


def stored_versions(atende, aggregate_id) -> list[int]:
    return [e.originator_version for e in atende.tickets.events.get(aggregate_id)]


def test_each_revision_of_a_calendar_reads_as_it_was(atende):
    config = atende.sla_config
    for spec in (ALWAYS, OFFICE, LATE):
        config.put_calendar("main", dict(spec), ADMIN)
    first, second, third = (config.calendar_revision("main", n) for n in (1, 2, 3))
    assert (first.revision, first.always_open, first.timezone) == (1, True, "UTC")
    assert (second.revision, second.weekly) == (2, {"monday": [["09:00", "17:00"]]})
    assert (third.revision, third.weekly) == (3, {"monday": [["10:00", "19:00"]]})
    assert third.current_revision() == atende.tickets.sla.calendar("main").current_revision()
    assert [first.version, second.version, third.version] == [1, 2, 3]


def test_a_put_that_changes_nothing_records_no_revision(atende):
    config = atende.sla_config
    config.put_calendar("main", dict(OFFICE), ADMIN)
    config.put_calendar("main", dict(OFFICE), ADMIN)
    assert stored_versions(atende, calendar_id("main")) == [1]
    with pytest.raises(RevisionNotFound, match="no revision 2"):
        config.calendar_revision("main", 2)


def test_a_deleted_calendars_revisions_stay_readable_and_a_revival_is_the_next(atende):
    config = atende.sla_config
    config.put_calendar("main", dict(ALWAYS), ADMIN)
    config.put_calendar("main", dict(OFFICE), ADMIN)
    config.delete_calendar("main", ADMIN)
    with pytest.raises(CalendarNotFound):
        atende.tickets.sla.calendar("main")
    assert config.calendar_revision("main", 2).weekly == OFFICE["weekly"]
    config.put_calendar("main", dict(LATE), ADMIN)  # version 4: the deletion was 3
    revived = config.calendar_revision("main", 3)
    assert (revived.revision, revived.version, revived.deleted) == (3, 4, False)
    assert revived.weekly == LATE["weekly"]


def test_a_calendar_that_never_existed_has_no_revisions(atende):
    with pytest.raises(CalendarNotFound) as missing:
        atende.sla_config.calendar_revision("nowhere", 1)
    assert not isinstance(missing.value, RevisionNotFound)


def test_a_calendar_put_with_a_stale_version_stores_nothing(atende):
    config = atende.sla_config
    config.put_calendar("main", dict(ALWAYS), ADMIN)
    config.put_calendar("main", dict(OFFICE), ADMIN, IfMatch(1))
    with pytest.raises(PreconditionFailed) as stale:
        config.put_calendar("main", dict(LATE), ADMIN, IfMatch(1))
    assert (stale.value.expected, stale.value.current) == (1, 2)
    assert stored_versions(atende, calendar_id("main")) == [1, 2]
    assert atende.tickets.sla.calendar("main").weekly == OFFICE["weekly"]


def test_if_match_any_needs_a_calendar_that_exists(atende):
    config = atende.sla_config
    with pytest.raises(PreconditionFailed):
        config.put_calendar("main", dict(ALWAYS), ADMIN, IfMatch())
    assert atende.tickets.sla.find_calendar("main") is None
    config.put_calendar("main", dict(ALWAYS), ADMIN)
    assert config.put_calendar("main", dict(OFFICE), ADMIN, IfMatch()).version == 2
    config.delete_calendar("main", ADMIN)
    with pytest.raises(PreconditionFailed):
        config.put_calendar("main", dict(LATE), ADMIN, IfMatch(3))
    assert stored_versions(atende, calendar_id("main")) == [1, 2, 3]


def test_an_admin_who_loses_the_race_is_stale_with_if_match_and_retried_without(
    atende, monkeypatch
):
    """Both admins read version 1; the other saves first. The loser's save conflicts:
    with If-Match it is refused, without it is applied on top of the winner's."""
    config, sla = atende.sla_config, atende.tickets.sla
    config.put_calendar("main", dict(ALWAYS), ADMIN)
    real_find = sla.find_calendar

    def read_then_lose(name):
        seen = real_find(name)
        monkeypatch.setattr(sla, "find_calendar", real_find)  # only the first read races
        config.put_calendar(name, dict(OFFICE), OTHER_ADMIN)
        return seen

    monkeypatch.setattr(sla, "find_calendar", read_then_lose)
    with pytest.raises(PreconditionFailed) as stale:
        config.put_calendar("main", dict(LATE), ADMIN, IfMatch(1))
    assert stale.value.current == 2
    assert sla.calendar("main").weekly == OFFICE["weekly"]

    monkeypatch.setattr(sla, "find_calendar", read_then_lose)
    saved = config.put_calendar("main", dict(LATE), ADMIN)
    assert (saved.version, sla.calendar("main").weekly) == (3, LATE["weekly"])


def test_policies_honour_if_match_from_version_zero(atende):
    config = atende.sla_config
    config.put_calendar("main", dict(ALWAYS), ADMIN)
    policy = SlaPolicy(name="standard", calendar="main", targets={"resolution": 3600})
    with pytest.raises(PreconditionFailed):
        config.replace_policies([policy], ADMIN, IfMatch(1))
    assert atende.tickets.sla.policies() is None
    first = config.replace_policies([policy], ADMIN, IfMatch(0))
    assert first.version == 2  # created, then replaced, in one save
    faster = SlaPolicy(name="standard", calendar="main", targets={"resolution": 60})
    with pytest.raises(PreconditionFailed):
        config.replace_policies([faster], ADMIN, IfMatch(0))
    assert stored_versions(atende, POLICIES_ID) == [1, 2]
    assert config.replace_policies([faster], ADMIN, IfMatch()).version == 3
