"""A batch of row changes reduced to the fewest statements that leave the same rows.

A view applies a whole batch in one transaction, so only each row's state at the end
of the batch matters: a ticket opened and worked on within one batch becomes a single
INSERT of its final fields, and consecutive updates of a row become one UPDATE. The
reduction is exact (a live view, fed small batches, stays identical to a rebuild fed
large ones): an update guarded by ``only_if_status`` is folded in only where the
batch itself says what the status is at that point, and kept as it is otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

Params = dict[str, Any]


@dataclass(slots=True)
class RowOp:
    """One statement on one row: an INSERT, or an UPDATE (guarded by a status or not)."""

    fields: Params
    insert: bool = False
    guard: str | None = None


@dataclass(slots=True)
class RowHistory:
    """What a batch does to one row: deleted first or not, then its operations in order."""

    deleted: bool = False
    ops: list[RowOp] = field(default_factory=list)

    def delete(self) -> None:
        # The row is gone whatever came before it in the batch.
        self.deleted = True
        self.ops.clear()

    def insert(self, fields: Params) -> None:
        self.ops.append(RowOp(dict(fields), insert=True))

    def update(self, fields: Params, guard: str | None) -> None:
        if not fields:
            return
        if not self.ops:
            if not self.deleted:  # an update of a row already deleted changes nothing
                self.ops.append(RowOp(dict(fields), guard=guard))
            return
        last = self.ops[-1]
        if last.guard is None:
            self._after_plain(last, fields, guard)
        else:
            self._after_guarded(last, fields, guard)

    def _after_plain(self, last: RowOp, fields: Params, guard: str | None) -> None:
        # After an INSERT, or an UPDATE that applies to the row whatever its status.
        if guard is None:
            last.fields.update(fields)
        elif "status" in last.fields or last.insert:
            # The status is known here, so the guard is decided now.
            if last.fields.get("status") == guard:
                last.fields.update(fields)
        else:
            self.ops.append(RowOp(dict(fields), guard=guard))

    def _after_guarded(self, last: RowOp, fields: Params, guard: str | None) -> None:
        if guard != last.guard:
            self.ops.append(RowOp(dict(fields), guard=guard))
        elif last.fields.get("status", guard) == guard:
            # Both apply exactly when the status was ``guard`` before the first.
            last.fields.update(fields)
        # Otherwise the first left the status other than ``guard`` (set it, or found it
        # so): the second can never apply.


class RowBatch:
    """Each row's history in a batch, in the order the rows first appear."""

    def __init__(self) -> None:
        self.rows: dict[str, RowHistory] = {}

    def history(self, row_id: str) -> RowHistory:
        history = self.rows.get(row_id)
        if history is None:
            history = self.rows[row_id] = RowHistory()
        return history

    def add(
        self, row_id: str, fields: Params | None, *, insert: bool, only_if_status: str | None
    ) -> None:
        """One change, as a view's projection describes it (``fields`` None deletes)."""
        history = self.history(row_id)
        if fields is None:
            history.delete()
        elif insert:
            history.insert(fields)
        else:
            history.update(fields, only_if_status)

    def inserted(self) -> dict[str, RowOp]:
        """The rows the batch inserts (after deleting them or not), by id."""
        return {i: h.ops[0] for i, h in self.rows.items() if h.ops and h.ops[0].insert}

    def deleted(self) -> list[str]:
        return [row_id for row_id, history in self.rows.items() if history.deleted]

    def rounds(self) -> Iterator[list[tuple[str, RowOp]]]:
        """The first operation of every row, then the second..., after the deletes: rows
        differ within a round, so a round's statements may run in any order."""
        depth = 0
        while True:
            round_ = [(i, h.ops[depth]) for i, h in self.rows.items() if len(h.ops) > depth]
            if not round_:
                return
            yield round_
            depth += 1


def grouped(statements: Iterable[tuple[str, Params]]) -> list[tuple[str, list[Params]]]:
    """Statements that may run in any order, as one executemany per statement text."""
    groups: dict[str, list[Params]] = {}
    for statement, params in statements:
        groups.setdefault(statement, []).append(params)
    return list(groups.items())
