"""A save collects what the library's ``collect_events`` collects, in the same order
(application/event_collection.py), for aggregates, bare events and None alike."""

from __future__ import annotations

import copy
from uuid import UUID, uuid4

from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate

from application.event_collection import collect
from domain.intake import ThreadKey


class Counter(Aggregate):
    def __init__(self) -> None:
        self.count = 0

    def add(self) -> None:
        self.trigger_event(self.Added)

    class Added(Aggregate.Event):
        def apply(self, aggregate: Counter) -> None:
            aggregate.count += 1


def _shape(processing_event: ProcessingEvent) -> tuple:
    events = [
        (type(e).__qualname__, e.originator_id, e.originator_version)
        for e in processing_event.events
    ]
    return events, list(processing_event.aggregates), processing_event.saved_kwargs


def test_events_are_collected_in_order_as_the_library_collects_them() -> None:
    key = ThreadKey.start(UUID(int=7), "email", "message", "a@example.com", uuid4())
    counter = Counter()
    counter.add()
    [loose_event] = Counter().collect_events()  # a bare event, saved on its own
    objects = [key, None, counter, loose_event]
    twins = copy.deepcopy(objects)  # the same pending events, for the library to collect

    ours, libraries = ProcessingEvent(), ProcessingEvent()
    collect(ours, objects, {"idempotency": "x"})
    libraries.collect_events(*twins, idempotency="x")

    assert _shape(ours) == _shape(libraries)
    assert [name for name, _, _ in _shape(ours)[0]] == [
        "ThreadKey.Started", "Counter.Created", "Counter.Added", "Counter.Created",
    ]  # fmt: skip
    assert not key.pending_events and not counter.pending_events  # collected, as a save does
