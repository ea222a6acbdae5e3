"""What auditors do: see a ticket as of an instant, verify the log, export it, and
review who read which history.

The hashes and the timestamp index live beside the events (infrastructure/audit_log.py);
this module walks them. Verification reads the log once, in position order, keeping only
each aggregate's last hash, so it runs in constant memory per aggregate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from application.errors import TicketNotFound
from application.tickets import CommandResult, TicketApplication
from domain.audit_chain import (
    GENESIS,
    Break,
    ChainWalk,
    Checkpoint,
    LinkRow,
    StoredRow,
    merge_by_position,
    sign_checkpoint,
    verify_aggregate,
)


@dataclass(frozen=True)
class VerifyReport:
    scope: str  # "log", "ticket" or "file"
    checked: int
    head_position: int
    checkpoints: int
    first_break: Break | None

    @property
    def ok(self) -> bool:
        return self.first_break is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "scope": self.scope,
            "checked_events": self.checked,
            "head_position": self.head_position,
            "checkpoints_checked": self.checkpoints,
            "first_break": None if self.first_break is None else self.first_break.as_dict(),
        }


@dataclass(frozen=True)
class ExportedEvent:
    row: StoredRow
    link: LinkRow | None
    prev_event_hash: str | None
    domain_event: Any


class AuditTrail:
    def __init__(
        self,
        tickets: TicketApplication,
        log: Any,  # infrastructure.audit_log.AuditLog
        checkpoint_key: bytes,
        checkpoint_file: Path | None,
    ):
        self.tickets = tickets
        self.log = log
        self.checkpoint_key = checkpoint_key
        self.checkpoint_file = checkpoint_file

    # As of.

    def ticket_as_of(self, ticket_id: UUID, at: datetime) -> CommandResult:
        """The ticket rebuilt from its events with timestamp <= ``at`` (from the nearest
        snapshot, not from a view)."""
        version = self.log.version_at(ticket_id, at)
        if version is None:
            raise TicketNotFound(ticket_id)
        return self.tickets.ticket_result(ticket_id, version)

    def history(
        self, ticket_id: UUID, start: datetime | None, end: datetime | None
    ) -> list[Any]:
        if start is None and end is None:
            return self.tickets.history(ticket_id)
        versions = self.log.versions_between(ticket_id, start, end)
        if versions is None:
            if not self.tickets.exists(ticket_id):
                raise TicketNotFound(ticket_id)
            return []
        return self.tickets.history(ticket_id, versions)

    def record_read(self, actor: Any, ticket_id: UUID | None, what: str, detail: str) -> None:
        self.log.record_read(actor, ticket_id, what, detail)

    # Checkpoints.

    def checkpoint(self, now: datetime | None = None) -> Checkpoint | None:
        """Sign the chain's head, in the database and (append-only) in the file outside it."""
        head = self.log.head()
        if head is None:
            return None
        known = self.log.checkpoints()
        if known and known[-1].position == head[0]:
            return known[-1]
        created_at = (now or datetime.now(UTC)).isoformat()
        checkpoint = sign_checkpoint(self.checkpoint_key, head[0], head[1], created_at)
        self.log.save_checkpoint(checkpoint)
        if self.checkpoint_file is not None:
            self.checkpoint_file.parent.mkdir(parents=True, exist_ok=True)
            with self.checkpoint_file.open("a", encoding="utf-8") as out:
                out.write(json.dumps(checkpoint.__dict__, sort_keys=True) + "\n")
        return checkpoint

    def _all_checkpoints(self) -> tuple[dict[int, Checkpoint], Break | None]:
        found = list(self.log.checkpoints()) + self._file_checkpoints()
        by_position: dict[int, Checkpoint] = {}
        for checkpoint in found:
            if not checkpoint.is_signed_by(self.checkpoint_key):
                return {}, Break("a checkpoint's signature is invalid", checkpoint.position)
            other = by_position.setdefault(checkpoint.position, checkpoint)
            if other.chain_hash != checkpoint.chain_hash:
                return {}, Break("two checkpoints disagree", checkpoint.position)
        return by_position, None

    def _file_checkpoints(self) -> list[Checkpoint]:
        if self.checkpoint_file is None or not self.checkpoint_file.exists():
            return []
        lines = self.checkpoint_file.read_text(encoding="utf-8").splitlines()
        return [Checkpoint(**json.loads(line)) for line in lines if line.strip()]

    # Verification.

    def verify(self) -> VerifyReport:
        checkpoints, broken = self._all_checkpoints()
        walk = ChainWalk(checkpoints=checkpoints)
        if broken is None:
            for event, link in merge_by_position(self.log.stored_rows(), self.log.link_rows()):
                broken = walk.check(event, link)
                if broken is not None:
                    break
            else:
                broken = walk.finish()
        return VerifyReport("log", walk.checked, walk.head_position, len(checkpoints), broken)

    def verify_ticket(self, ticket_id: UUID) -> VerifyReport:
        events, links = self.log.aggregate_rows(ticket_id)
        if not events and not links:
            raise TicketNotFound(ticket_id)
        present = {e.position for e in events}
        missing = [link for position, link in sorted(links.items()) if position not in present]
        if missing:
            first = missing[0]
            broken: Break | None = Break(
                "event recorded in the chain is missing from the log (deleted)",
                first.position,
                first.originator_id,
                first.version,
            )
        else:
            chain_at = self.log.chain_hashes_at({link.prev_position for link in links.values()})
            broken = verify_aggregate(events, links, chain_at)
        head = events[-1].position if events else 0
        checked = len(events) if broken is None else 0
        return VerifyReport("ticket", checked, head, 0, broken)

    # Export.

    def export_ticket(self, ticket_id: UUID) -> tuple[dict[str, Any], Iterator[ExportedEvent]]:
        events, links = self.log.aggregate_rows(ticket_id)
        if not events:
            raise TicketNotFound(ticket_id)
        return {"ticket": str(ticket_id)}, self._exported(iter(events), links.get)

    def export_range(
        self, start: datetime, end: datetime
    ) -> tuple[dict[str, Any], Iterator[ExportedEvent]]:
        """Every row from the first event at or after ``start`` to the last at or before
        ``end``, in position order and without gaps, so the file's chain can be checked."""
        bounds = self.log.positions_between(start, end)
        scope: dict[str, Any] = {"from": start.isoformat(), "to": end.isoformat()}
        if bounds is None:
            return {**scope, "first_position": None, "last_position": None}, iter(())
        lo, hi = bounds
        scope.update(first_position=lo, last_position=hi)
        links = self.log.link_rows(after=lo - 1, upto=hi)
        pairs = merge_by_position(self.log.stored_rows(after=lo - 1, upto=hi), links)
        rows = (event for event, _ in pairs if event is not None)
        return scope, self._exported(rows, self._link_lookup(lo, hi))

    def _link_lookup(self, lo: int, hi: int) -> Any:
        cache: dict[int, LinkRow] = {}
        state = {"upto": lo - 1}

        def find(position: int) -> LinkRow | None:
            if position > state["upto"]:
                cache.clear()
                upto = min(position + 4999, hi)
                cache.update(self.log.links_for(list(range(position, upto + 1))))
                state["upto"] = upto
            return cache.get(position)

        return find

    def _exported(self, rows: Iterator[StoredRow], link_of: Any) -> Iterator[ExportedEvent]:
        last_hash: dict[UUID, tuple[int, str]] = {}
        mapper = self.tickets.mapper
        for row in rows:
            link = link_of(row.position)
            known = last_hash.get(row.originator_id)
            if row.version == 1:
                prev = GENESIS
            elif known is not None and known[0] == row.version - 1:
                prev = known[1]
            else:
                prev = self.log.event_hash_of(row.originator_id, row.version - 1)
            if link is not None:
                last_hash[row.originator_id] = (row.version, link.event_hash)
            stored = StoredEvent(row.originator_id, row.version, row.topic, row.state)
            yield ExportedEvent(row, link, prev, mapper.to_domain_event(stored))
