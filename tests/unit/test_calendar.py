"""The Calendar aggregate: revisions, deletion, validation and its business hours."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import pytest
from eventsourcing.application import Application

from application.transcodings import ActorAsDict
from domain.actor import Actor
from domain.calendar import (
    REVISION_FIELDS,
    Calendar,
    InvalidCalendar,
    calendar_id,
    check_revision,
    parse_clock,
)
from domain.sla.business_time import DAY

ADMIN = Actor("id1", "admin", "admin")
HOUR = 3600
SPLIT = [["09:00", "13:00"], ["14:00", "18:00"]]


def revision(**changes: Any) -> dict[str, Any]:
    base = {
        "name": "sao-paulo-support",
        "timezone": "America/Sao_Paulo",
        "weekly": {day: SPLIT for day in ("monday", "tuesday", "wednesday", "thursday", "friday")},
        "holidays": [{"date": "2025-04-21", "name": "Tiradentes"}],
        "closures": [{"date": "2025-03-05", "start": None, "end": "14:00", "reason": "Cinzas"}],
        "seed": {"country": "BR", "subdivision": "SP", "categories": ["public"]},
        "tzdata_version": "2025b",
        "holidays_version": "0.109",
    }
    return {**base, **changes}


def new_calendar(**changes: Any) -> Calendar:
    return Calendar.create(actor=ADMIN, **revision(**changes))


def test_a_calendars_id_derives_from_its_name():
    assert new_calendar().id == uuid5(NAMESPACE_URL, "/calendars/sao-paulo-support")
    assert calendar_id("sao-paulo-support") == new_calendar().id


def test_a_new_calendar_holds_its_first_revision():
    calendar = new_calendar()
    assert calendar.revision == 1
    assert not calendar.deleted
    assert calendar.current_revision() == check_revision(**revision())
    (created,) = calendar.collect_events()
    assert type(created).__name__ == "Created"
    assert created.actor == ADMIN
    assert created.timezone == "America/Sao_Paulo"


def test_a_revision_replaces_the_whole_calendar():
    calendar = new_calendar()
    calendar.revise(actor=ADMIN, **revision(timezone="America/Lima", holidays=[]))
    assert (calendar.revision, calendar.timezone, calendar.holidays) == (2, "America/Lima", [])
    assert [type(e).__name__ for e in calendar.collect_events()] == ["Created", "Revised"]


def test_a_revision_that_changes_nothing_records_nothing():
    calendar = new_calendar()
    calendar.collect_events()
    calendar.revise(actor=ADMIN, **revision())
    assert calendar.collect_events() == []
    assert calendar.revision == 1


def test_a_calendar_keeps_its_name():
    with pytest.raises(InvalidCalendar) as refused:
        new_calendar().revise(actor=ADMIN, **revision(name="lima-support"))
    assert refused.value.field == "name"


def test_a_deleted_calendar_comes_back_with_its_next_revision():
    calendar = new_calendar()
    calendar.delete(ADMIN)
    calendar.delete(ADMIN)
    assert calendar.deleted
    calendar.revise(actor=ADMIN, **revision())
    assert not calendar.deleted
    assert calendar.revision == 2
    names = [type(e).__name__ for e in calendar.collect_events()]
    assert names == ["Created", "Deleted", "Revised"]


def test_weekly_intervals_are_stored_sorted_and_closed_days_left_out():
    calendar = new_calendar(
        weekly={"monday": [["14:00", "18:00"], ["09:00", "13:00"]], "sunday": []}
    )
    assert calendar.weekly == {"monday": SPLIT}


def test_business_hours_turn_holidays_into_full_day_closures():
    hours = new_calendar().business_hours()
    assert hours.timezone == "America/Sao_Paulo"
    assert hours.weekly[0] == ((9 * HOUR, 13 * HOUR), (14 * HOUR, 18 * HOUR))
    assert hours.weekly[5:] == ((), ())
    assert hours.closures[date(2025, 4, 21)] == ((0, DAY),)
    assert hours.closures[date(2025, 3, 5)] == ((0, 14 * HOUR),)
    assert not hours.always_open


def test_a_closure_without_a_start_or_end_runs_to_that_edge_of_the_day():
    closures = [{"date": "2025-12-24", "start": "13:00", "end": None, "reason": "Christmas Eve"}]
    hours = new_calendar(closures=closures).business_hours()
    assert hours.closures[date(2025, 12, 24)] == ((13 * HOUR, DAY),)


def test_an_always_open_calendar_needs_no_weekly_hours():
    hours = new_calendar(always_open=True, weekly={}).business_hours()
    assert hours.always_open


def test_events_carry_only_plain_json_types_and_replay_to_the_same_calendar():
    class Calendars(Application):
        def register_transcodings(self, transcoder):
            super().register_transcodings(transcoder)
            transcoder.register(ActorAsDict())

    app = Calendars()
    calendar = new_calendar()
    calendar.revise(actor=ADMIN, **revision(always_open=True))
    for stored in calendar.pending_events:
        for name in REVISION_FIELDS:
            assert_plain(getattr(stored, name))
    app.save(calendar)
    replayed = app.repository.get(calendar.id)
    assert replayed.current_revision() == calendar.current_revision()
    assert replayed.business_hours() == calendar.business_hours()


def assert_plain(value: Any) -> None:
    if isinstance(value, dict):
        assert all(isinstance(key, str) for key in value)
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            assert_plain(item)
    else:
        assert value is None or type(value) in (str, int, bool)


@pytest.mark.parametrize(
    ("text", "seconds"), [("00:00", 0), ("09:30", 9 * HOUR + 1800), ("24:00", DAY)]
)
def test_clock_times_parse_to_seconds_since_midnight(text, seconds):
    assert parse_clock(text) == seconds


INVALID = [
    ({"name": ""}, "name"),
    ({"timezone": "America/Atlantis"}, "timezone"),
    ({"timezone": "America"}, "timezone"),
    ({"always_open": "yes"}, "always_open"),
    ({"weekly": [["09:00", "18:00"]]}, "weekly"),
    ({"weekly": {"funday": SPLIT}}, "weekly.funday"),
    ({"weekly": {"monday": "09:00-18:00"}}, "weekly.monday"),
    ({"weekly": {"monday": [["09:00"]]}}, "weekly.monday[0]"),
    ({"weekly": {"monday": [["09:00", "13:00"], ["14:00", "9pm"]]}}, "weekly.monday[1].end"),
    ({"weekly": {"monday": [["9:00", "13:00"]]}}, "weekly.monday[0].start"),
    ({"weekly": {"monday": [["09:60", "13:00"]]}}, "weekly.monday[0].start"),
    ({"weekly": {"monday": [["09:00", "24:30"]]}}, "weekly.monday[0].end"),
    ({"weekly": {"monday": [["13:00", "09:00"]]}}, "weekly.monday[0].end"),
    ({"weekly": {"monday": [["09:00", "09:00"]]}}, "weekly.monday[0].end"),
    ({"weekly": {"tuesday": [["12:00", "18:00"], ["09:00", "12:30"]]}}, "weekly.tuesday[0]"),
    ({"holidays": [{"date": "2025-02-30", "name": "Nope"}]}, "holidays[0].date"),
    ({"holidays": [{"date": "20250421", "name": "Tiradentes"}]}, "holidays[0].date"),
    ({"holidays": [{"date": "2025-04-21"}]}, "holidays[0].name"),
    ({"holidays": ["2025-04-21"]}, "holidays[0]"),
    ({"closures": [{"date": "2025-03-05", "start": "14:00", "end": "14:00"}]}, "closures[0].end"),
    ({"closures": [{"date": "2025-03-05", "start": "24:00", "end": None}]}, "closures[0].end"),
    ({"closures": [{"date": "2025-03-05", "start": "2pm", "end": None}]}, "closures[0].start"),
    ({"closures": [{"date": "5 March", "start": None, "end": None}]}, "closures[0].date"),
    ({"closures": [{"date": "2025-03-05", "end": None, "reason": 7}]}, "closures[0].reason"),
    ({"seed": {"country": "", "categories": []}}, "seed.country"),
    ({"seed": {"country": "BR", "categories": ["public", 3]}}, "seed.categories[1]"),
    ({"tzdata_version": 2025}, "tzdata_version"),
]


@pytest.mark.parametrize(("changes", "field"), INVALID)
def test_a_bad_revision_is_refused_naming_the_field(changes, field):
    with pytest.raises(InvalidCalendar) as refused:
        new_calendar(**changes)
    assert refused.value.field == field


@pytest.mark.parametrize(("changes", "field"), INVALID[:6])
def test_a_bad_revision_records_nothing(changes, field):
    calendar = new_calendar()
    calendar.collect_events()
    with pytest.raises(InvalidCalendar):
        calendar.revise(actor=ADMIN, **revision(**changes))
    assert calendar.collect_events() == []
    assert calendar.revision == 1
