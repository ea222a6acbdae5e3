"""make bench's summary table (tests/bench/summary.py): a figure more than 10 % worse
than the previous note's is marked FELL, in the direction that is worse for it."""

from __future__ import annotations

import pytest

from tests.bench.summary import Figure, record, table


def ratio(value: float) -> Figure:
    return Figure("create atende/bare req/s", "sqlite", value, 0.6, higher_is_better=True)


def latency(value: float) -> Figure:
    return Figure("create p99 ms", "sqlite", value, 50.0, higher_is_better=False)


def test_a_ratio_more_than_ten_percent_below_the_previous_note_fell():
    assert ratio(0.26).fell_from(0.30)
    assert not ratio(0.28).fell_from(0.30)
    assert not ratio(0.40).fell_from(0.30)


def test_a_latency_more_than_ten_percent_above_the_previous_note_fell():
    assert latency(56.0).fell_from(50.0)
    assert not latency(54.0).fell_from(50.0)
    assert not latency(30.0).fell_from(50.0)


def test_the_table_names_what_fell_and_what_met_its_target():
    previous = {ratio(0).key: 0.40, latency(0).key: 40.0}
    text = table([ratio(0.30), latency(30.0)], previous)
    assert "FELL more than 10 % since the previous note: create atende/bare req/s [sqlite]" in text
    assert "1 of 2 targets met" in text


def test_a_figure_needs_exactly_one_target():
    with pytest.raises(ValueError):
        record("x", "sqlite", 1.0)
    with pytest.raises(ValueError):
        record("x", "sqlite", 1.0, at_least=1.0, below=2.0)
