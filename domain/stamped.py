"""An event base for aggregates whose event methods record when things happened."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate


class StampedEvent(Aggregate.Event):
    """The library stamps ``modified_on`` only after the event method ran; this stamps
    it first, so an event method can write ``self.modified_on`` as the event's time."""

    def mutate(self, aggregate: Any) -> Any:
        if aggregate is not None:
            aggregate.modified_on = self.timestamp
        return super().mutate(aggregate)
