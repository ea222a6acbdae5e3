"""Collecting what a save writes, without the library's protocol checks for aggregates.

``ProcessingEvent.collect_events`` (eventsourcing 9.5) asks of each object it is given
whether it is a domain event and whether it can collect events, both runtime-checkable
protocols: on Python 3.11 such an ``isinstance`` walks the protocol's members every time,
13 µs an aggregate, and a command saves three to five (the ticket, its SLA timers, its
survey, identity claims, thread keys; issue 19). An aggregate of the library's own base
class answers both the same way (it is no event: it has no ``originator_id``; it collects
events), so a class check settles it; anything else goes to the library's check.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import BaseAggregate


def collect(processing_event: ProcessingEvent[Any], objs: Iterable[Any], kwargs: dict) -> None:
    """What ``processing_event.collect_events(*objs, **kwargs)`` does, in the same order."""
    for obj in objs:
        if isinstance(obj, BaseAggregate):
            processing_event.events.extend(obj.collect_events())
            processing_event.aggregates[obj.id] = obj
        else:
            processing_event.collect_events(obj)
    processing_event.saved_kwargs.update(kwargs)
