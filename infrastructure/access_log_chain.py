"""The keyed hash chain over the access log, and the walk that checks it (issue 16).

Each row carries ``seq`` (its place in the chain: 1, 2, 3... with no gaps), ``prev_seal``
(the seal of the row before it) and ``seal``, an HMAC with a key derived from the
deployment secret over every column. Someone who can write the database but does not hold
the secret can delete, edit or insert rows, but cannot seal what they leave behind.

Two sealed rows of state pin the chain's ends: ``head``, the last row appended (so the
newest rows cannot be cut off unseen), and ``purged``, the last row the retention purge
deleted (so a chain starting right after it is whole, and oldest rows deleted by hand
are not). Rows written before seals existed (``seq`` NULL) are accepted only while no
sealed row has been purged and none is older than they are.

This module is pure: it seals values and says where the first break is in rows given.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.audit_chain import GENESIS, Break

# Every column a row holds, in the order its seal covers them.
SEALED_COLUMNS = (
    "id", "at", "principal_id", "principal_name", "role", "ticket_id", "what", "detail",
    "route", "item_count", "ticket_ids", "seq", "prev_seal",
)  # fmt: skip
HEAD, PURGED = "head", "purged"


def row_seal(key: bytes, values: Sequence[Any]) -> str:
    """The seal of one row: ``values`` in SEALED_COLUMNS order (JSON keeps field
    boundaries and round-trips the float ``at`` exactly)."""
    content = json.dumps(list(values), separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, b"access-log-row:" + content.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class End:
    """One end of the chain: the ``seq`` and ``seal`` of the last row appended (head)
    or purged (purged); seq 0 and the genesis seal before any."""

    name: str
    seq: int = 0
    seal: str = GENESIS

    def mark(self, key: bytes) -> str:
        content = json.dumps([self.name, self.seq, self.seal]).encode()
        return hmac.new(key, b"access-log-end:" + content, hashlib.sha256).hexdigest()

    def is_marked(self, key: bytes, mark: str | None) -> bool:
        return mark is not None and _same(mark, self.mark(key))


@dataclass(frozen=True)
class Legacy:
    """The newest row written before seals, and the oldest sealed row present."""

    newest_id: str
    newest_at: float
    first_sealed_at: float | None


def legacy_break(legacy: Legacy | None, purged: End) -> Break | None:
    """Rows without a seal may only precede every sealed row, and every purge of a
    sealed row deletes them all (they are older)."""
    if legacy is None:
        return None
    after_sealed = legacy.first_sealed_at is not None and legacy.newest_at > legacy.first_sealed_at
    if purged.seq > 0 or after_sealed:
        return Break(f"access-log row {legacy.newest_id} has no seal but was written after "
                     "sealed rows (it was not written by Atende)")  # fmt: skip
    return None


class ChainWalk:
    """Checks sealed rows given in ``seq`` order, page after page, from the purge
    watermark to the head."""

    def __init__(self, key: bytes, head: End, purged: End):
        self.key, self.head = key, head
        self.seq, self.seal = purged.seq, purged.seal
        self.checked = 0

    def feed(self, rows: Iterable[Sequence[Any]]) -> Break | None:
        """``rows``: tuples in SEALED_COLUMNS order, then the stored seal."""
        for *values, stored in rows:
            row = dict(zip(SEALED_COLUMNS, values, strict=True))
            broken = self._check(row, values, stored)
            if broken is not None:
                return broken
            self.seq, self.seal = row["seq"], stored
            self.checked += 1
        return None

    def finish(self) -> Break | None:
        if self.seq < self.head.seq:
            return Break(f"{_rows(self.seq + 1, self.head.seq)} (the newest) deleted")
        return None

    def past(self, head: End) -> Break | None:
        """Rows walked past ``head``, the head read again once the walk is done. Rows
        appended during the walk moved the head past them in their own transaction, so
        a row beyond it means the head was put back by hand under newer rows."""
        if self.seq > head.seq:
            return Break(f"{_rows(head.seq + 1, self.seq)} follow the head Atende recorded "
                         f"(seq {head.seq}): the head was put back")  # fmt: skip
        return None

    def _check(self, row: dict[str, Any], values: list[Any], stored: str | None) -> Break | None:
        if row["seq"] != self.seq + 1:
            return self._gap(row)
        if stored is None or not _same(stored, row_seal(self.key, values)):
            return Break(f"access-log row {row['id']} (seq {row['seq']}) was not written by "
                         "Atende as it stands (its seal does not match)",
                         aggregate_id=_ticket(row["ticket_id"]))  # fmt: skip
        if row["prev_seal"] != self.seal:
            return Break(f"access-log row {row['id']} (seq {row['seq']}) does not follow "
                         "the row before it", aggregate_id=_ticket(row["ticket_id"]))  # fmt: skip
        if row["seq"] == self.head.seq and stored != self.head.seal:
            return Break(f"access-log row {row['id']} (seq {row['seq']}) is not the head "
                         "Atende recorded")  # fmt: skip
        return None

    def _gap(self, row: dict[str, Any]) -> Break:
        if row["seq"] <= self.seq:
            return Break(f"access-log row {row['id']} (seq {row['seq']}) was not written by "
                         "Atende (its place in the chain is taken or purged)")  # fmt: skip
        missing = _rows(self.seq + 1, row["seq"] - 1)
        if self.checked == 0:
            return Break(f"{missing} (the oldest) deleted without a retention purge")
        return Break(f"{missing} deleted")


def _same(stored: Any, expected: str) -> bool:
    # As bytes: a value written by hand may hold characters compare_digest refuses as text.
    return hmac.compare_digest(str(stored).encode(), expected.encode())


def _rows(first: int, last: int) -> str:
    if first == last:
        return f"access-log row seq {first}"
    return f"access-log rows seq {first} to {last}"


def _ticket(value: str | None) -> UUID | None:
    try:
        return None if value is None else UUID(value)
    except ValueError:
        return None
