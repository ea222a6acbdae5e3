"""What auditors do: see a ticket as of an instant, verify the log and export it
(who read what is infrastructure/access_log.py, written by interface/http/personal_reads.py).

The hashes and the timestamp index live beside the events (infrastructure/audit_log.py);
this module walks them. Verification reads the log once, in position order, keeping only
each aggregate's last hash, so it runs in constant memory per aggregate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from application.chain_ranges import (
    RangeRunner,
    one_chain,
    split_positions,
    walk_range,
    walk_rows,
)
from application.errors import TicketNotFound
from application.tickets import CommandResult, TicketApplication
from domain.audit_chain import (
    ANCHOR_EVERY_SECONDS,
    ED25519,
    GENESIS,
    Break,
    ChainWalk,
    Checkpoint,
    LinkRow,
    StoredRow,
    anchor_due,
    merge_by_position,
    verify_aggregate,
)


@dataclass(frozen=True)
class Unanchored:
    """The log's tail that no anchor outside the database covers yet: what someone with
    database access could still cut off or rewrite unseen."""

    anchored_position: int | None  # the newest anchor in the anchor file
    events: int  # events after it
    seconds: float | None  # from the anchor to the newest event

    def as_dict(self) -> dict[str, Any]:
        return {
            "anchored_position": self.anchored_position,
            "events": self.events,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
        }


@dataclass(frozen=True)
class VerifyReport:
    scope: str  # "log", "ticket" or "file"
    checked: int
    head_position: int
    checkpoints: int
    first_break: Break | None
    unanchored: Unanchored | None = None

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
            "unanchored": None if self.unanchored is None else self.unanchored.as_dict(),
        }


@dataclass(frozen=True)
class ExportedEvent:
    """One stored event as an export carries it: the row, its hashes, nothing decoded
    (the export renders what the row says, so a file can be checked without keys)."""

    row: StoredRow
    link: LinkRow | None
    prev_event_hash: str | None


class AuditTrail:
    def __init__(
        self,
        tickets: TicketApplication,
        log: Any,  # infrastructure.audit_log.AuditLog
        checkpoint_key: bytes,
        anchors: Any,  # infrastructure.anchors.AnchorFile: outside the database
        signer: Any,  # infrastructure.anchors.AnchorSigner: Ed25519, public key to verify
        anchor_every: float = ANCHOR_EVERY_SECONDS,
        link_seal_key: bytes | None = None,  # checks the seal of each hash record
        side_tables: Callable[[], Break | None] = lambda: None,  # application.integrity
        range_runner: RangeRunner | None = None,  # walks ranges of the log side by side
        verify_workers: int = 1,
        parallel_from: int = 200_000,  # positions; a shorter log is walked in one range
    ):
        self.tickets = tickets
        self.log = log
        self.checkpoint_key = checkpoint_key  # verifies checkpoints signed before Ed25519
        self.anchors = anchors
        self.signer = signer
        self.anchor_every = anchor_every
        self.link_seal_key = link_seal_key
        self.side_tables = side_tables
        self.range_runner = range_runner
        self.verify_workers = verify_workers
        self.parallel_from = parallel_from

    # As of.

    def ticket_as_of(self, ticket_id: UUID, at: datetime) -> CommandResult:
        """The ticket rebuilt from its events with timestamp <= ``at`` (from the nearest
        snapshot, not from a view)."""
        version = self.log.version_at(ticket_id, at)
        if version is None:
            raise TicketNotFound(ticket_id)
        return self.tickets.ticket_result(ticket_id, version)

    def history(self, ticket_id: UUID, start: datetime | None, end: datetime | None) -> list[Any]:
        if start is None and end is None:
            return self.tickets.history(ticket_id)
        versions = self.log.versions_between(ticket_id, start, end)
        if versions is None:
            if not self.tickets.exists(ticket_id):
                raise TicketNotFound(ticket_id)
            return []
        return self.tickets.history(ticket_id, versions)

    # Anchors: signed checkpoints of the chain's head.

    def checkpoint(self, now: datetime | None = None) -> Checkpoint | None:
        """Sign the chain's head (Ed25519) and append it to the anchor file outside the
        database, then to the database's own table."""
        head = self.log.head()
        if head is None:
            return None
        last = self.log.last_checkpoint()
        if last is not None and last.position == head[0]:
            return last
        unsigned = Checkpoint(head[0], head[1], (now or datetime.now(UTC)).isoformat(), "")
        checkpoint = replace(unsigned, signature=self.signer.sign(unsigned.payload()))
        self.anchors.append(checkpoint.__dict__)  # it counts once it is outside
        self.log.save_checkpoint(checkpoint)
        return checkpoint

    def anchor_if_due(self, now: datetime) -> Checkpoint | None:
        """Anchor the head when ANCHOR_EVERY_EVENTS positions or ``anchor_every`` seconds
        were written since the newest anchor (the projector asks every second)."""
        head = self.log.head()
        if head is None or not anchor_due(self.log.last_checkpoint(), head[0], now,
                                          self.anchor_every):  # fmt: skip
            return None
        return self.checkpoint(now)

    def _signature_holds(self, checkpoint: Checkpoint) -> bool:
        if checkpoint.signature.startswith(ED25519):
            return self.signer.verifies(checkpoint.payload(), checkpoint.signature)
        return checkpoint.is_signed_by(self.checkpoint_key)  # signed before Ed25519

    def _all_checkpoints(self) -> tuple[dict[int, Checkpoint], Break | None]:
        found = list(self.log.checkpoints()) + self._file_checkpoints()
        by_position: dict[int, Checkpoint] = {}
        for checkpoint in found:
            if not self._signature_holds(checkpoint):
                return {}, Break("a checkpoint's signature is invalid", checkpoint.position)
            other = by_position.setdefault(checkpoint.position, checkpoint)
            if other.chain_hash != checkpoint.chain_hash:
                return {}, Break("two checkpoints disagree", checkpoint.position)
        return by_position, None

    def _file_checkpoints(self) -> list[Checkpoint]:
        return [Checkpoint(**anchor) for anchor in self.anchors.read()]

    # Verification.

    def verify(self) -> VerifyReport:
        checkpoints, broken = self._all_checkpoints()
        walk = ChainWalk(checkpoints=checkpoints, seal_key=self.link_seal_key)
        outside = self._file_checkpoints()
        anchor = max(outside, key=lambda c: c.position) if outside else None
        anchored_at = 0 if anchor is None else anchor.position
        after, newest = 0, None
        if broken is None:
            head = self.log.head()
            walks = self._walk_ranges(head, checkpoints, anchored_at)
            if one_chain(walks, head):
                walk.resume_after_ranges(walks[-1].end, sum(w.checked for w in walks))
                after = sum(w.unanchored for w in walks)
                newest = next((w.newest for w in reversed(walks) if w.newest is not None), None)
            else:
                # Name the first break exactly: both tables merged, one row at a time, so
                # a hash record whose event was deleted is seen too.
                rows = merge_by_position(self.log.stored_rows(), self.log.link_rows())
                broken, after, newest = walk_rows(walk, rows, anchored_at)
            if broken is None:
                broken = walk.finish() or self._refused_snapshot(None) or self.side_tables()
        window = _unanchored(anchor, after, newest)
        return VerifyReport(
            "log", walk.checked, walk.head_position, len(checkpoints), broken, window
        )

    def _walk_ranges(
        self, head: tuple[int, str] | None, checkpoints: dict[int, Checkpoint], anchored_at: int
    ) -> list[Any]:
        ranges = split_positions(
            0 if head is None else head[0], self.verify_workers, self.parallel_from
        )
        if len(ranges) == 1 or self.range_runner is None:
            return [walk_range(self.log, checkpoints, self.link_seal_key, anchored_at, (0, None))]
        return self.range_runner(ranges, checkpoints, self.link_seal_key, anchored_at)

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
            broken = verify_aggregate(
                events, links, chain_at, self.link_seal_key
            ) or self._refused_snapshot(ticket_id)
        head = events[-1].position if events else 0
        checked = len(events) if broken is None else 0
        return VerifyReport("ticket", checked, head, 0, broken)

    def _refused_snapshot(self, ticket_id: UUID | None) -> Break | None:
        """Snapshots are sealed when taken (infrastructure/snapshot_seals.py); one whose
        seal does not hold is never loaded, and named here."""
        return self.tickets.snapshots.recorder.first_refused(ticket_id)

    def retake_snapshots(self) -> int:
        """Replace every snapshot verify names (edited, or taken before snapshots were
        sealed) by one made again from the events; how many were replaced."""
        return self.tickets.snapshots.recorder.retake_refused(self.tickets.take_snapshot)

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
        # The anchors inside the range let a third party check the file with the public key.
        inside = {c.position: c for c in self._file_checkpoints() if lo <= c.position <= hi}
        anchors = [inside[position].__dict__ for position in sorted(inside)]
        scope.update(first_position=lo, last_position=hi, anchors=anchors)
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
            yield ExportedEvent(row, link, prev)


def _unanchored(anchor: Checkpoint | None, events: int, newest_micros: int | None) -> Unanchored:
    seconds = None
    if anchor is not None and newest_micros is not None:
        anchored = datetime.fromisoformat(anchor.created_at).timestamp()
        seconds = max(0.0, newest_micros / 1_000_000 - anchored)
    return Unanchored(None if anchor is None else anchor.position, events, seconds)
