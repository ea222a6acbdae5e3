"""What every view's projection is: events in, row changes out.

A projection turns each event of the log into changes to its view's rows; the follower
(infrastructure/projector.py) gathers a batch's changes and hands them to the view,
which writes them with the batch's last position in one transaction. So a projection
only computes: it never writes, and it reads nothing of its view.

Not eventsourcing's ``Projection``: that one's abstract ``process_event`` (one event,
written at once) is what the library's ProjectionRunner calls, and Atende does not use
that runner (see infrastructure/projector.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.utils import TopicError, resolve_topic

ChangeT = TypeVar("ChangeT")  # one change to a view's rows (queue.Change, sla.TimerRow...)


class RowView(TrackingRecorder, ABC, Generic[ChangeT]):
    """A view's rows, written together with the position in the log they reflect."""

    @abstractmethod
    def apply(self, changes: Sequence[ChangeT], tracking: Tracking) -> None:
        """Apply the changes and record the tracking position, atomically."""


class RowProjection(ABC, Generic[ChangeT]):
    """Turns events into changes to one view's rows. Every projection follows the whole
    log: events it shows nothing of make no changes."""

    name: ClassVar[str]  # the view's name (infrastructure/views/registry.py)
    # Whether the follower may decode a slice of events before it asks for their changes
    # (infrastructure/projector.py, DECODE_AHEAD). A projection whose ``wants`` learns
    # from its own ``changes`` (the webhook outbox: a subscription made at one position
    # wants the events after it) says False, and is asked one event at a time, in order.
    decodes_ahead: ClassVar[bool] = True

    def __init__(self, view: RowView[ChangeT]) -> None:
        self.view = view  # where the follower applies the changes; changes() never reads it
        self._wanted_topics: dict[str, bool] = {}  # wants(), by stored topic

    @abstractmethod
    def changes(self, domain_event: Any, position: int) -> list[ChangeT]:
        """The event's changes to the view's rows (none for an event the view shows
        nothing of); ``position`` is the event's place in the log."""

    def handles(self, event_class: type) -> bool:
        """Whether events of this class can change the view at all (``changes`` makes
        none for the others). A projection that knows says so: the follower then never
        decodes the others."""
        return True

    def wants(self, topic: str, position: int) -> bool:
        """``handles``, told from a stored event's topic, once per topic: an email
        outcome or an SLA timer's tick is decoded by the views that show it, not by
        all seven."""
        wanted = self._wanted_topics.get(topic)
        if wanted is None:
            try:
                wanted = self.handles(resolve_topic(topic))
            except TopicError:  # no class answers to it: decoding it says why
                wanted = True
            self._wanted_topics[topic] = wanted
        return wanted
