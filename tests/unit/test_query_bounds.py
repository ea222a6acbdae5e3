"""Query bounds that keep a request from reading decades or binding impossible numbers
(both found by the OpenAPI conformance run as a timeout and a 500)."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from interface.http.schemas.events import EventsQuery
from interface.http.schemas.reports import DateRangeIn


def test_a_report_from_alone_decades_ago_is_refused_as_too_long_a_range() -> None:
    with pytest.raises(ValidationError) as refused:
        DateRangeIn().load({"from": "1952-01-01"})
    assert "from" in refused.value.messages


def test_a_report_to_alone_spans_the_thirty_days_up_to_it() -> None:
    loaded = DateRangeIn().load({"to": "2026-01-30"})
    assert (loaded["to"] - loaded["from_"]).days == 29


def test_an_event_feed_position_beyond_64_bits_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        EventsQuery().load({"after": str(2**63)})
    assert "after" in refused.value.messages
