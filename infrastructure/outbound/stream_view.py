"""The NATS stream as a view the projector follows (projections/stream.py): a batch is
published, every message acknowledged, then its position recorded in a tracking table
of its own (Clarification 8). Where to resume is the later of that position and the
stream's newest message (infrastructure/outbound/nats_stream.py says why)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder

from infrastructure.outbound.nats_stream import NatsStream
from infrastructure.views.tracking import SQLiteViewTracking
from projections.base import RowView
from projections.stream import StreamMessage

TRACKING_TABLE = "tracking_outbound_nats"


class _SQLiteTracking(SQLiteViewTracking):
    tracking_table_name = TRACKING_TABLE


def stream_tracking(datastore: Any) -> TrackingRecorder:
    if isinstance(datastore, PostgresDatastore):
        return PostgresTrackingRecorder(datastore, tracking_table_name=TRACKING_TABLE)
    return _SQLiteTracking(datastore)


class StreamView(RowView[StreamMessage]):
    def __init__(self, tracking: TrackingRecorder, stream: NatsStream):
        self.tracking = tracking
        self.stream = stream
        # Whether the next position asked for also asks the stream: at start and after
        # a failed batch, not on every batch (two round trips to NATS each).
        self._resuming = True

    def create_table(self) -> None:
        self.tracking.create_table()  # type: ignore[attr-defined]

    def max_tracking_id(self, application_name: str) -> int | None:
        recorded = self.tracking.max_tracking_id(application_name) or 0
        if not self._resuming:
            return recorded or None
        published = self.stream.last_position() or 0
        self._resuming = False
        return max(recorded, published) or None

    def insert_tracking(self, tracking: Tracking) -> None:
        self.tracking.insert_tracking(tracking)

    def apply(self, changes: Sequence[StreamMessage], tracking: Tracking) -> None:
        try:
            self.stream.publish(changes)
            self.tracking.insert_tracking(tracking)
        except Exception:
            self._resuming = True
            raise
