"""Events read ahead: an aggregate's events fetched by an earlier read of the same
command, handed to the read that asks for them instead of asking the database again.

A command on a ticket loads the ticket, applies itself, and then brings the ticket's SLA
timers up to date, which reads the timers' events after the version this process keeps:
on PostgreSQL a round trip of its own (issue 19). The ticket's load already makes one, so
it fetches the timers' events in the same statement (application/ticket_loads.py) and
leaves them here, for the timers' read to take.

An answer is kept for the command's scope only (``answering_ahead``), in the thread that
read it, and given once, to the read that asks exactly what was fetched: the same
aggregate, after the same version, with no other bounds. A read asking anything else (the
kept copy moved on, or was dropped) goes to the database as before. So an answer is at
most as old as the command's own ticket load, as if the timers had been read then; and
a write built on it is refused as ever if the timers moved meanwhile (their next version
is taken), or checked like any other read it made.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from infrastructure.sql import as_uuid


class AnswersAhead:
    """A mixin for an application recorder, before the class whose ``select_events`` it
    answers for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each thread's answers, by (originator_id, gt): None outside a command's scope.
        self._answers = threading.local()

    @contextmanager
    def answering_ahead(self) -> Iterator[None]:
        """A command's scope: what is read ahead in it is answered in it, then dropped."""
        outer = getattr(self._answers, "kept", None)
        self._answers.kept = {} if outer is None else outer
        try:
            yield
        finally:
            if outer is None:
                self._answers.kept = None

    def answer_ahead(
        self, originator_id: UUID, gt: int | None, events: Sequence[StoredEvent]
    ) -> None:
        """Keep these as the answer to the events of ``originator_id`` after ``gt``
        (ignored outside a scope: nothing would drop them)."""
        kept = getattr(self._answers, "kept", None)
        if kept is not None:
            kept[(originator_id, gt)] = list(events)

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        kept = getattr(self._answers, "kept", None)
        if kept and lte is None and not desc and limit is None:
            answer = kept.pop((as_uuid(originator_id), gt), None)
            if answer is not None:
                return answer
        return super().select_events(  # type: ignore[misc]
            originator_id, gt=gt, lte=lte, desc=desc, limit=limit
        )
