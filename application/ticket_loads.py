"""A ticket loaded in one read: its newest snapshot and the events after it together.

The library's Repository loads a snapshotted aggregate in two queries, the newest snapshot
and then the events after its version; on PostgreSQL each is a round trip, and every
command on a ticket starts with such a load (a message's five round trips, issue 19).
Where the snapshot store's recorder answers both in one statement
(``select_newest_and_after``, infrastructure/recorders.py), this repository asks it
instead. A load at a version (as-of, idempotent replays), a recorder without it, or a
newest snapshot that is refused (its seal does not hold, infrastructure/snapshot_seals.py)
goes the library's way, which reads on past a refused snapshot.

The one statement sees one committed state, where the library's two reads may straddle a
commit; a command's write refuses a version taken meanwhile either way.
"""

from __future__ import annotations

from itertools import chain
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository


class OneReadRepository(Repository[UUID]):
    def _reconstruct_aggregate(self, aggregate_id: UUID, version: int | None, projector_func: Any):
        together = getattr(
            self.snapshot_store.recorder if self.snapshot_store else None,
            "select_newest_and_after",
            None,
        )
        found = together(aggregate_id) if together and version is None else None
        if found is None:
            return super()._reconstruct_aggregate(aggregate_id, version, projector_func)
        snapshot, events = found
        assert self.snapshot_store is not None  # found only through it
        aggregate = projector_func(
            None,
            chain(
                [self.snapshot_store.mapper.to_domain_event(snapshot)] if snapshot else [],
                map(self.event_store.mapper.to_domain_event, events),
            ),
        )
        if aggregate is None:
            raise AggregateNotFoundError(f"Aggregate {aggregate_id!r} version None not found.")
        return aggregate
