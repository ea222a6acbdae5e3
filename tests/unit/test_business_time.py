"""Business-time arithmetic: deadlines and elapsed open time in six Latin American zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domain.sla.business_time import DAY, BusinessHours, business_seconds_between, due_at
from infrastructure.holidays import seed_holidays

HOUR = 3600
NINE_TO_SIX = ((9 * HOUR, 18 * HOUR),)
SPLIT = ((9 * HOUR, 13 * HOUR), (14 * HOUR, 18 * HOUR))
ALL_DAY = ((0, DAY),)
SANTIAGO = "America/Santiago"
SAO_PAULO = "America/Sao_Paulo"


def weekdays(*intervals: tuple[int, int]) -> tuple[tuple[tuple[int, int], ...], ...]:
    return (intervals,) * 5 + ((), ())


def hours(
    zone: str,
    weekly: tuple[tuple[tuple[int, int], ...], ...] = weekdays(*SPLIT),
    closures: dict[date, tuple[tuple[int, int], ...]] | None = None,
) -> BusinessHours:
    return BusinessHours(zone, weekly, closures or {})


def at(zone: str, *fields: int) -> datetime:
    return datetime(*fields, tzinfo=ZoneInfo(zone))


def sao_paulo(*fields: int) -> datetime:
    return at(SAO_PAULO, *fields)


def santiago(*fields: int) -> datetime:
    return at(SANTIAGO, *fields)


def seeded_closures(*categories: str) -> dict[date, tuple[tuple[int, int], ...]]:
    return {
        date.fromisoformat(holiday["date"]): ((0, DAY),)
        for holiday in seed_holidays("BR", "SP", categories, (2024, 2025))
    }


# (zone, weekly, start as local fields, target seconds, expected deadline as local fields)
DEADLINES = [
    ("America/Mexico_City", weekdays(*NINE_TO_SIX), (2024, 3, 5, 10), 2 * HOUR, (2024, 3, 5, 12)),
    ("America/Bogota", weekdays(*SPLIT), (2024, 6, 4, 12), 2 * HOUR, (2024, 6, 4, 15)),
    ("America/Lima", weekdays(*SPLIT), (2024, 5, 10, 17), 2 * HOUR, (2024, 5, 13, 10)),
    (SANTIAGO, weekdays(*SPLIT), (2024, 6, 8, 11), 30 * 60, (2024, 6, 10, 9, 30)),
    (
        "America/Argentina/Buenos_Aires",
        weekdays(*SPLIT),
        (2024, 7, 2, 13, 30),
        30 * 60,
        (2024, 7, 2, 14, 30),
    ),
    (SAO_PAULO, weekdays(*SPLIT), (2024, 8, 6, 7), 4 * HOUR, (2024, 8, 6, 13)),
    (SAO_PAULO, weekdays(*SPLIT), (2024, 8, 5, 9), 5 * 8 * HOUR, (2024, 8, 9, 18)),
    ("America/Lima", weekdays(*NINE_TO_SIX), (2024, 5, 10, 18), 1, (2024, 5, 13, 9, 0, 1)),
]


@pytest.mark.parametrize(("zone", "weekly", "start", "target", "expected"), DEADLINES)
def test_deadlines_count_only_open_time_in_the_calendars_own_zone(
    zone, weekly, start, target, expected
):
    deadline = due_at(at(zone, *start), target, hours(zone, weekly))
    assert deadline == at(zone, *expected)
    assert deadline.tzinfo is UTC


@pytest.mark.parametrize(("zone", "weekly", "start", "target", "expected"), DEADLINES)
def test_open_time_up_to_the_deadline_is_the_target(zone, weekly, start, target, expected):
    counted = business_seconds_between(at(zone, *start), at(zone, *expected), hours(zone, weekly))
    assert counted == target


def test_a_deadline_landing_exactly_at_closing_is_the_closing_instant():
    nine_to_six = hours(SAO_PAULO, weekdays(*NINE_TO_SIX))
    assert due_at(sao_paulo(2024, 8, 5, 9), 9 * HOUR, nine_to_six) == sao_paulo(2024, 8, 5, 18)
    assert due_at(sao_paulo(2024, 8, 5, 9), 4 * HOUR, hours(SAO_PAULO)) == sao_paulo(2024, 8, 5, 13)


def test_one_second_past_closing_moves_to_the_next_opening():
    split = hours(SAO_PAULO)
    assert due_at(sao_paulo(2024, 8, 5, 9), 4 * HOUR + 1, split) == sao_paulo(2024, 8, 5, 14, 0, 1)


def test_a_zero_target_inside_hours_is_the_start_itself():
    start = sao_paulo(2024, 8, 5, 10, 15, 30)
    assert due_at(start, 0, hours(SAO_PAULO)) == start


@pytest.mark.parametrize(
    ("start", "opening"),
    [
        ((2024, 8, 5, 7), (2024, 8, 5, 9)),  # before opening
        ((2024, 8, 5, 13, 20), (2024, 8, 5, 14)),  # lunch gap
        ((2024, 8, 5, 13), (2024, 8, 5, 14)),  # the closing instant itself is closed
        ((2024, 8, 10, 11), (2024, 8, 12, 9)),  # weekend
        ((2024, 8, 9, 19), (2024, 8, 12, 9)),  # Friday evening
    ],
)
def test_time_started_outside_hours_counts_from_the_next_opening(start, opening):
    split = hours(SAO_PAULO)
    assert due_at(sao_paulo(*start), 0, split) == sao_paulo(*opening)
    assert due_at(sao_paulo(*start), HOUR, split) == sao_paulo(*opening) + timedelta(hours=1)


def test_results_do_not_depend_on_the_zone_the_start_is_given_in():
    start = sao_paulo(2024, 8, 5, 10)
    in_tokyo = start.astimezone(ZoneInfo("Asia/Tokyo"))
    assert due_at(in_tokyo, 3 * HOUR, hours(SAO_PAULO)) == due_at(start, 3 * HOUR, hours(SAO_PAULO))


def test_sub_second_parts_of_the_inputs_are_dropped():
    start = sao_paulo(2024, 8, 5, 10) + timedelta(microseconds=900_000)
    assert due_at(start, 60, hours(SAO_PAULO)) == sao_paulo(2024, 8, 5, 10, 1)


def test_good_friday_and_tiradentes_are_skipped():
    public = hours(SAO_PAULO, closures=seeded_closures("public"))
    # 2025: Good Friday is 18 April and Tiradentes Monday 21 April.
    start = sao_paulo(2025, 4, 17, 17)
    assert due_at(start, 2 * HOUR, public) == sao_paulo(2025, 4, 22, 10)


def test_time_started_on_a_holiday_counts_from_the_next_working_day():
    public = hours(SAO_PAULO, closures=seeded_closures("public"))
    assert due_at(sao_paulo(2024, 3, 29, 10), 0, public) == sao_paulo(2024, 4, 1, 9)


def test_seeded_optional_days_close_carnival_and_all_of_ash_wednesday():
    with_optional = hours(SAO_PAULO, closures=seeded_closures("public", "optional"))
    # Carnival 2025 is Monday 3 and Tuesday 4 March; Ash Wednesday the 5th.
    start = sao_paulo(2025, 2, 28, 17)
    assert due_at(start, 2 * HOUR, with_optional) == sao_paulo(2025, 3, 6, 10)


def test_a_partial_closure_keeps_ash_wednesday_closed_until_14_00():
    carnival = {date(2025, 3, 3): ((0, DAY),), date(2025, 3, 4): ((0, DAY),)}
    closures = {**carnival, date(2025, 3, 5): ((0, 14 * HOUR),)}
    deadline = due_at(sao_paulo(2025, 2, 28, 17), 2 * HOUR, hours(SAO_PAULO, closures=closures))
    assert deadline == sao_paulo(2025, 3, 5, 15)


def test_elapsed_open_time_skips_weekends_and_holidays():
    public = hours(SAO_PAULO, closures=seeded_closures("public"))
    # Thursday 17 April 2025 09:00 to Tuesday 22 April 12:00: 8 h + 3 h.
    counted = business_seconds_between(
        sao_paulo(2025, 4, 17, 9), sao_paulo(2025, 4, 22, 12), public
    )
    assert counted == 11 * HOUR


def test_elapsed_time_backwards_is_zero():
    later, earlier = sao_paulo(2024, 8, 6, 12), sao_paulo(2024, 8, 5, 12)
    assert business_seconds_between(later, earlier, hours(SAO_PAULO)) == 0


@pytest.mark.parametrize(
    ("first", "last", "length"),
    [
        ((2024, 9, 7, 12), (2024, 9, 8, 12), 23 * HOUR),  # spring forward: 00:00 -> 01:00
        ((2024, 4, 6, 12), (2024, 4, 7, 12), 25 * HOUR),  # fall back: 00:00 -> 23:00 again
    ],
)
def test_santiago_dst_nights_last_their_real_length(first, last, length):
    always = BusinessHours(SANTIAGO, ((),) * 7, always_open=True)
    all_day = hours(SANTIAGO, (ALL_DAY,) * 7)
    for calendar in (always, all_day):
        assert business_seconds_between(santiago(*first), santiago(*last), calendar) == length


def test_a_midnight_to_midnight_day_has_23_and_25_hours_on_santiago_dst_dates():
    all_day = hours(SANTIAGO, (ALL_DAY,) * 7)
    # 8 Sep 2024 begins at 01:00 (the 00:00 hour never happens) and ends at the 9th's 00:00.
    spring = business_seconds_between(santiago(2024, 9, 8, 1), santiago(2024, 9, 9), all_day)
    # 6 Apr 2024 runs from its 00:00 to the 7th's 00:00, living 23:00-24:00 twice.
    autumn = business_seconds_between(santiago(2024, 4, 6), santiago(2024, 4, 7), all_day)
    assert (spring, autumn) == (23 * HOUR, 25 * HOUR)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ((2024, 9, 7, 12), (2024, 9, 8, 13)),  # 12 h on Saturday, 12 h from Sunday's 01:00
        ((2024, 4, 6, 12), (2024, 4, 7, 11)),  # Saturday holds 13 real hours
    ],
)
def test_deadlines_across_santiago_dst_nights_count_real_hours(start, expected):
    all_day = hours(SANTIAGO, (ALL_DAY,) * 7)
    assert due_at(santiago(*start), 24 * HOUR, all_day) == santiago(*expected)


def test_an_interval_starting_in_the_spring_forward_gap_opens_when_the_gap_ends():
    sunday_night = ((30 * 60, 2 * HOUR),)  # 00:30-02:00, but 00:00-01:00 does not exist
    weekly = ((),) * 6 + (sunday_night,)
    calendar = hours(SANTIAGO, weekly)
    gap_end = datetime(2024, 9, 8, 4, tzinfo=UTC)
    assert due_at(santiago(2024, 9, 7, 23), 0, calendar) == gap_end
    assert due_at(santiago(2024, 9, 7, 23), 30 * 60, calendar) == santiago(2024, 9, 8, 1, 30)


def test_an_interval_covering_the_fall_back_overlap_spans_the_real_elapsed_time():
    late_saturday = ((22 * HOUR, DAY),)
    weekly = ((),) * 5 + (late_saturday, ())
    calendar = hours(SANTIAGO, weekly)
    start, end = santiago(2024, 4, 6, 21), santiago(2024, 4, 7, 1)
    assert business_seconds_between(start, end, calendar) == 3 * HOUR


def test_sao_paulos_historic_dst_is_honoured():
    all_day = hours(SAO_PAULO, (ALL_DAY,) * 7)
    # 2018: clocks went back at 18 Feb 00:00 and forward at 4 Nov 00:00.
    autumn = business_seconds_between(sao_paulo(2018, 2, 17), sao_paulo(2018, 2, 18), all_day)
    spring = business_seconds_between(sao_paulo(2018, 11, 4, 1), sao_paulo(2018, 11, 5), all_day)
    assert (autumn, spring) == (25 * HOUR, 23 * HOUR)


def test_a_calendar_that_never_opens_is_refused_instead_of_looping():
    never = hours(SAO_PAULO, ((),) * 7)
    with pytest.raises(ValueError, match="no open time"):
        due_at(sao_paulo(2024, 8, 5), 60, never)
    assert business_seconds_between(sao_paulo(2024, 8, 5), sao_paulo(2024, 9, 5), never) == 0


def test_naive_datetimes_and_negative_targets_are_refused():
    with pytest.raises(ValueError, match="time zone"):
        due_at(datetime(2024, 8, 5, 10), 60, hours(SAO_PAULO))
    with pytest.raises(ValueError, match="time zone"):
        business_seconds_between(datetime(2024, 8, 5), sao_paulo(2024, 8, 6), hours(SAO_PAULO))
    with pytest.raises(ValueError, match="negative"):
        due_at(sao_paulo(2024, 8, 5, 10), -1, hours(SAO_PAULO))


def test_business_hours_are_normalised_hashable_values():
    messy = hours(SAO_PAULO, weekdays((14 * HOUR, 18 * HOUR), (9 * HOUR, 13 * HOUR)))
    assert messy == hours(SAO_PAULO)
    assert hash(messy) == hash(hours(SAO_PAULO))
    touching = hours(SAO_PAULO, weekdays((9 * HOUR, 13 * HOUR), (13 * HOUR, 18 * HOUR)))
    assert touching.weekly[0] == NINE_TO_SIX
    assert dict(hours(SAO_PAULO, closures={date(2024, 1, 1): [(0, DAY)]}).closures) == {
        date(2024, 1, 1): ((0, DAY),)
    }


@pytest.mark.parametrize(
    ("zone", "weekly", "closures", "message"),
    [
        ("Mars/Olympus", weekdays(*SPLIT), {}, "unknown time zone"),
        (SAO_PAULO, weekdays(*SPLIT)[:6], {}, "7 days"),
        (SAO_PAULO, weekdays((10 * HOUR, 9 * HOUR)), {}, "start < end"),
        (SAO_PAULO, weekdays((9 * HOUR, DAY + 1)), {}, "start < end"),
        (SAO_PAULO, weekdays(*SPLIT), {datetime(2024, 1, 1): ALL_DAY}, "keyed by date"),
    ],
)
def test_business_hours_refuse_bad_values(zone, weekly, closures, message):
    with pytest.raises(ValueError, match=message):
        BusinessHours(zone, weekly, closures)


# Properties, checked against a brute-force reference that walks minute by minute and asks of
# each instant whether its local reading is open. Every boundary drawn below is a whole minute,
# as are these zones' offsets and transitions, so openness is constant within each minute.

ZONES = [
    "America/Mexico_City",
    "America/Bogota",
    "America/Lima",
    SANTIAGO,
    "America/Argentina/Buenos_Aires",
    SAO_PAULO,
]
DST_DATES = [
    (SANTIAGO, date(2023, 4, 1)),
    (SANTIAGO, date(2023, 9, 3)),
    (SANTIAGO, date(2024, 4, 6)),
    (SANTIAGO, date(2024, 9, 8)),
    (SAO_PAULO, date(2017, 10, 15)),
    (SAO_PAULO, date(2018, 2, 17)),
    (SAO_PAULO, date(2018, 11, 4)),
]
STEP = 60
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


def reference_is_open(calendar: BusinessHours, instant: int) -> bool:
    local = datetime.fromtimestamp(instant, calendar.zone)
    second = local.hour * HOUR + local.minute * 60 + local.second
    opened = any(s <= second < e for s, e in calendar.weekly[local.weekday()])
    closed = any(s <= second < e for s, e in calendar.closures.get(local.date(), ()))
    return opened and not closed


def reference_segments(calendar: BusinessHours, first: int, last: int):
    """(start, end, open) for the minute-bounded pieces of [first, last)."""
    while first < last:
        end = min((first // STEP + 1) * STEP, last)
        yield first, end, reference_is_open(calendar, first)
        first = end


def reference_due_at(calendar: BusinessHours, first: int, target: int) -> int:
    remaining = target
    for start, end, is_open in reference_segments(calendar, first, first + 60 * DAY):
        if is_open and end - start >= remaining:
            return start + remaining
        if is_open:
            remaining -= end - start
    raise AssertionError("the reference walked 60 days without reaching the target")


def reference_between(calendar: BusinessHours, first: int, last: int) -> int:
    segments = reference_segments(calendar, first, last)
    return sum(end - start for start, end, is_open in segments if is_open)


def reference_closings(calendar: BusinessHours, first: int, last: int) -> list[tuple[int, int]]:
    """(open seconds used up, closing instant) for each closing in [first, last]."""
    closings, used, was_open = [], 0, False
    for start, end, is_open in reference_segments(calendar, first, last):
        if was_open and not is_open:
            closings.append((used, start))
        used += end - start if is_open else 0
        was_open = is_open
    return closings


def epoch(day: date) -> int:
    return (day - date(1970, 1, 1)).days * DAY


def utc(instant: int) -> datetime:
    return datetime.fromtimestamp(instant, UTC)


@st.composite
def day_intervals(draw, min_count: int = 0) -> tuple[tuple[int, int], ...]:
    count = draw(st.integers(min_count, 3))
    minutes = st.integers(0, 24 * 60)
    bounds = sorted(draw(st.lists(minutes, min_size=2 * count, max_size=2 * count, unique=True)))
    return tuple((bounds[i] * 60, bounds[i + 1] * 60) for i in range(0, len(bounds), 2))


@st.composite
def zones_and_starts(draw) -> tuple[str, int]:
    """Half the starts lie within days of a DST change in Santiago or São Paulo."""
    if draw(st.booleans()):
        zone, day = draw(st.sampled_from(DST_DATES))
        return zone, draw(st.integers(epoch(day) - 3 * DAY, epoch(day) + 2 * DAY))
    window = st.integers(epoch(date(2017, 1, 1)), epoch(date(2026, 1, 1)))
    return draw(st.sampled_from(ZONES)), draw(window)


@st.composite
def calendars_and_starts(draw) -> tuple[BusinessHours, int]:
    zone, start = draw(zones_and_starts())
    weekly = tuple(draw(day_intervals()) for _ in range(7))
    assume(any(weekly))
    first_day = datetime.fromtimestamp(start, ZoneInfo(zone)).date()
    closed_days = st.integers(-1, 14).map(lambda n: first_day + timedelta(days=n))
    closed = st.one_of(st.just(ALL_DAY), day_intervals(min_count=1))
    closures = draw(st.dictionaries(closed_days, closed, max_size=4))
    return BusinessHours(zone, weekly, closures), start


def weekly_open_seconds(calendar: BusinessHours) -> int:
    return sum(end - start for day in calendar.weekly for start, end in day)


@PROPERTY_SETTINGS
@given(case=calendars_and_starts(), data=st.data())
def test_deadlines_match_a_minute_by_minute_walk(case, data):
    calendar, start = case
    limit = min(weekly_open_seconds(calendar) * 3 // 2, 3 * DAY)
    target = data.draw(st.integers(0, limit))
    assert due_at(utc(start), target, calendar) == utc(reference_due_at(calendar, start, target))


@PROPERTY_SETTINGS
@given(case=calendars_and_starts(), data=st.data())
def test_a_deadline_that_uses_up_an_interval_is_its_closing_instant(case, data):
    calendar, start = case
    closings = reference_closings(calendar, start, start + 3 * DAY)
    assume(closings)
    target, closing = data.draw(st.sampled_from(closings))
    assert due_at(utc(start), target, calendar) == utc(closing)


@PROPERTY_SETTINGS
@given(case=calendars_and_starts(), span=st.integers(-DAY, 4 * DAY))
def test_elapsed_open_time_matches_a_minute_by_minute_walk(case, span):
    calendar, start = case
    open_seconds = business_seconds_between(utc(start), utc(start + span), calendar)
    assert open_seconds == reference_between(calendar, start, start + span)


@PROPERTY_SETTINGS
@given(case=calendars_and_starts(), data=st.data())
def test_open_time_from_a_start_to_its_deadline_is_the_target(case, data):
    calendar, start = case
    target = data.draw(st.integers(0, weekly_open_seconds(calendar) * 10))
    deadline = due_at(utc(start), target, calendar)
    assert business_seconds_between(utc(start), deadline, calendar) == target
