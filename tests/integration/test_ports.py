"""The ticket application has every member its helper services' Protocols name
(application/ports.py): a renamed method fails here, not in a rare code path."""

from __future__ import annotations

import inspect

import pytest

from application import ports

PROTOCOLS = [
    member
    for _, member in inspect.getmembers(ports, inspect.isclass)
    if getattr(member, "_is_protocol", False) and member.__module__ == ports.__name__
]
# What the application's parts (recorder, event store, SLA, surveys, customers) serve.
PARTS = {
    ports.Positions, ports.ReadsEvents, ports.FollowsTickets, ports.ResolvesCustomers,
    ports.KeepsSlaClock,
}  # fmt: skip
HOSTED = [p for p in PROTOCOLS if p not in PARTS]


@pytest.mark.parametrize("protocol", HOSTED, ids=lambda p: p.__name__)
def test_the_ticket_application_serves_what_each_helper_service_asks_of_it(atende, protocol):
    assert isinstance(atende.tickets, protocol)


def test_its_parts_serve_what_the_services_ask_of_them(atende):
    app = atende.tickets
    assert isinstance(app.recorder, ports.Positions)
    assert isinstance(app.events, ports.ReadsEvents)
    assert isinstance(app.sla, ports.FollowsTickets)
    assert isinstance(app.sla, ports.KeepsSlaClock)
    assert isinstance(app.surveys, ports.FollowsTickets)
    assert isinstance(app.customers, ports.ResolvesCustomers)
