"""Verify's fast path: the log walked in ranges of positions, side by side.

Checking a million events is CPU work (four hashes and a timestamp a row), so verify
splits the positions into ranges and walks each in its own process
(infrastructure/verify_workers.py); one range, walked here, below
``parallel_from`` positions. Each range is read in one joined query a page
(``AuditLog.chained_rows``) and links onto the head the row before it left: the
range's starting head is the stored hash record at its lower bound, which the
range before must end on (``one_chain``).

An aggregate whose earlier versions lie in an earlier range resumes from the stored
``event_hash`` of its previous version: that record lies in the earlier range, whose
walk checked it against the event's content. A hash record with no event is invisible
to a joined read, so each range also counts its records.

The fast path only ever says "all sound": anything else (a break, a count that
differs, ranges that do not join) and verify walks the whole log again, one row at a
time with both tables merged, to name the first break exactly (application/audit.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from domain.audit_chain import (
    GENESIS,
    Break,
    ChainWalk,
    Checkpoint,
    LinkRow,
    StoredRow,
    malformed,
)

Bounds = tuple[int, int | None]  # positions (after, upto]; upto None: to the end of the log
# Walks the ranges in workers of their own: (bounds, checkpoints, seal key, anchored at).
RangeRunner = Callable[
    [Sequence[Bounds], dict[int, Checkpoint], bytes | None, int], list["RangeWalk"]
]


@dataclass(frozen=True)
class RangeWalk:
    """What walking one range found (a worker's answer, so plain and picklable)."""

    sound: bool  # every event checked, and as many hash records as events
    checked: int
    start: tuple[int, str]  # the head the range linked onto: (position, chain hash)
    end: tuple[int, str]  # the head it left
    unanchored: int  # rows after the newest anchor's position
    newest: int | None  # the last of those rows' timestamp, micros


def split_positions(head: int, workers: int, parallel_from: int) -> list[Bounds]:
    """Ranges of positions for ``workers`` walks; one range for a short log."""
    if workers <= 1 or head < parallel_from:
        return [(0, None)]
    step = -(-head // workers)
    cuts = [step * n for n in range(workers)]
    return [(lo, hi) for lo, hi in zip(cuts, [*cuts[1:], None], strict=True)]


def walk_range(
    log: Any,  # infrastructure.audit_log.AuditLog
    checkpoints: dict[int, Checkpoint],
    seal_key: bytes | None,
    anchored_at: int,
    bounds: Bounds,
) -> RangeWalk:
    lo, hi = bounds
    walk = ChainWalk(checkpoints=checkpoints, seal_key=seal_key)
    start = log.link_at_or_before(lo) if lo > 0 else None
    if start is not None:
        walk.resume_after(start)
    unanchored, newest, sound = 0, None, True
    for page in log.chained_rows(after=lo, upto=hi):
        if lo > 0:
            _resume_aggregates(log, walk, page, lo)
        broken, rows, last = walk_rows(walk, page, anchored_at)
        unanchored, newest = unanchored + rows, last if last is not None else newest
        if broken is not None:
            sound = False
            break
    sound = sound and log.link_count(after=lo, upto=hi) == walk.checked
    return RangeWalk(
        sound,
        walk.checked,
        (0, GENESIS) if start is None else (start.position, start.chain_hash),
        (walk.head_position, walk.head_chain_hash),
        unanchored,
        newest,
    )


def one_chain(walks: Sequence[RangeWalk], head: tuple[int, str] | None) -> bool:
    """Whether the ranges are each sound, link end to start from the genesis, and reach
    ``head``, the last hash record seen before they started (a worker that read another,
    emptier database would otherwise prove nothing and say so soundly)."""
    ends = [(0, GENESIS), *(w.end for w in walks[:-1])]
    joined = all(w.sound and w.start == end for w, end in zip(walks, ends, strict=True))
    last = walks[-1].end
    return joined and (head is None or last == head or last[0] > head[0])


def walk_rows(
    walk: ChainWalk,
    rows: Iterable[tuple[StoredRow | None, LinkRow | None]],
    anchored_at: int,
) -> tuple[Break | None, int, int | None]:
    """Check ``rows`` in order: the first break, how many rows lie after the anchor at
    ``anchored_at``, and the newest one's timestamp (the unanchored window)."""
    after, newest = 0, None
    for event, link in rows:
        try:
            broken = walk.check(event, link)
        except (TypeError, ValueError, AttributeError, OverflowError):
            # A column holding what the recorder never writes (raw SQL can put text in a
            # hash's place, or on SQLite anything anywhere): a change, named here.
            broken = malformed(event, link)
        if broken is not None:
            return broken, after, newest
        if link.position > anchored_at:  # check() returned None: the link is there
            after, newest = after + 1, link.occurred_at
    return None, after, newest


def _resume_aggregates(
    log: Any, walk: ChainWalk, page: list[tuple[StoredRow, LinkRow | None]], lo: int
) -> None:
    """Give the walk the previous version's hash of each aggregate the page continues
    from before the range; one read for the page."""
    wanted, seen = [], set()
    for event, _ in page:
        if event.originator_id in seen:
            continue
        seen.add(event.originator_id)
        if event.version > 1 and not walk.knows(event.originator_id):
            wanted.append((event.originator_id, event.version - 1))
    for link in log.event_hashes_of(wanted).values():
        # Only a record before the range was checked by an earlier one.
        if link.position <= lo:
            walk.resume_aggregate(link)
