"""The tamper-evident chain over the event log, and the walk that checks it.

Every stored event gets two hashes, written by the recorder in the events' own
transaction (infrastructure/audit_log.py):

- ``event_hash`` chains the events of one aggregate: it covers the stored event
  (id, version, topic, state bytes) and the aggregate's previous ``event_hash``;
- ``chain_hash`` chains every row of the log in position order: it covers the row's
  position, its ``event_hash`` and the previous row's ``chain_hash``. Rows link to the
  previous *row* (``prev_position``), not to position - 1: PostgreSQL's sequence leaves gaps.

The as-of index (``occurred_at``) is not hashed: it must equal the timestamp inside the
hashed state, which the walk checks, so it cannot move unseen (rows written before this
check existed included). Snapshots are sealed (``snapshot_seal``): a keyed hash over the
stored snapshot and the ``event_hash`` of the event at its version.

Hashes alone cannot stop someone who rewrites a row and every hash after it, so signed
checkpoints of the chain head (an HMAC with a deployment key) pin it down; they also catch
a truncated tail, which leaves a perfectly consistent but shorter chain.

This module is pure: it takes rows and says where the first break is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

GENESIS = "0" * 64
_GENESIS_BYTES = bytes(32)

# How the library's JSON transcoder begins every stored event: the timestamp is the first
# field of its state (originator id and version are columns of their own).
_TIMESTAMP_PREFIX = b'{"timestamp":{"_type_":"datetime_iso","_data_":"'
_STAMP_START = len(_TIMESTAMP_PREFIX)
_STAMP_END = _STAMP_START + 32


def micros(moment: datetime) -> int:
    """An aware instant as integer microseconds since the epoch: exact, and ordered."""
    return round(moment.timestamp() * 1_000_000)


def recorded_micros(state: bytes) -> int | None:
    """The event's own timestamp, from its stored state, in ``micros``; None if it has
    none. Read by prefix when the state starts with it (every event the library writes
    does): verify reads a million of them, and a JSON parse each would dominate."""
    try:
        if state.startswith(_TIMESTAMP_PREFIX):
            # The library's UTC stamps are 32 characters; anything else is found by the quote.
            end = _STAMP_END if state[_STAMP_END : _STAMP_END + 1] == b'"' else None
            end = end or state.index(b'"', _STAMP_START)
            text = state[_STAMP_START:end].decode("ascii")
        else:
            text = json.loads(state)["timestamp"]["_data_"]
        return _iso_micros(text)
    except (ValueError, KeyError, TypeError):
        return None


_SECONDS: dict[str, int] = {}  # "2026-11-24T09:30:00" -> epoch seconds, for UTC stamps


def _iso_micros(text: str) -> int:
    """``micros(datetime.fromisoformat(text))``, faster for the library's UTC stamps
    ("...T09:30:00.250001+00:00"): events come in bursts within one second, so the
    second's epoch value is looked up and only the fraction is parsed."""
    if len(text) != 32 or text[19] != "." or not text.endswith("+00:00"):
        return micros(datetime.fromisoformat(text))
    second = text[:19]
    epoch = _SECONDS.get(second)
    if epoch is None:
        if len(_SECONDS) > 100_000:
            _SECONDS.clear()
        epoch = _SECONDS[second] = round(datetime.fromisoformat(second + "+00:00").timestamp())
    return epoch * 1_000_000 + int(text[20:26])


def content_digest(originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """The stored event's own content, with lengths so no two fields can trade bytes."""
    return _content_digest(originator_id.bytes, version, topic, state)


def _content_digest(id_bytes: bytes, version: int, topic: str, state: bytes) -> bytes:
    topic_part = _TOPIC_PARTS.get(topic)
    if topic_part is None:
        encoded = topic.encode("utf-8")
        topic_part = len(encoded).to_bytes(4, "big") + encoded
        if len(_TOPIC_PARTS) < 1000:  # a log has a few dozen event types
            _TOPIC_PARTS[topic] = topic_part
    version_part = version.to_bytes(8, "big", signed=True)
    return hashlib.sha256(b"".join((id_bytes, version_part, topic_part, state))).digest()


_TOPIC_PARTS: dict[str, bytes] = {}


def event_hash(prev_event_hash: str, digest: bytes) -> str:
    return hashlib.sha256(b"E" + bytes.fromhex(prev_event_hash) + digest).hexdigest()


def snapshot_seal(
    key: bytes, originator_id: UUID, version: int, topic: str, state: bytes, event_hash_hex: str
) -> str:
    """A snapshot's seal: keyed, so that someone who can write the database but does not
    hold the deployment secret cannot seal a snapshot of their own; bound to the chain
    through the event_hash of the event at the snapshot's version."""
    digest = content_digest(originator_id, version, topic, state)
    message = b"S" + digest + bytes.fromhex(event_hash_hex)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def chain_hash(prev_chain_hash: str, position: int, event_hash_hex: str) -> str:
    return hashlib.sha256(
        b"C"
        + bytes.fromhex(prev_chain_hash)
        + position.to_bytes(8, "big")
        + bytes.fromhex(event_hash_hex)
    ).hexdigest()


def _chain_digest(link: LinkRow) -> bytes:
    """``chain_hash`` of a link's own fields, as bytes."""
    return hashlib.sha256(
        b"C"
        + bytes.fromhex(link.prev_chain_hash)
        + link.position.to_bytes(8, "big")
        + bytes.fromhex(link.event_hash)
    ).digest()


class StoredRow(NamedTuple):
    """An events-table row, as read back (or as an export line carries it). A named tuple
    rather than a frozen dataclass: verify makes a million, and a tuple is built in C."""

    position: int
    originator_id: UUID
    version: int
    topic: str
    state: bytes


class LinkRow(NamedTuple):
    """The hashes the recorder wrote for one position, and its as-of timestamp."""

    position: int
    originator_id: UUID
    version: int
    event_hash: str
    chain_hash: str
    prev_position: int
    prev_chain_hash: str
    occurred_at: int  # micros; must equal the timestamp in the hashed state
    # MAC of chain_hash with a key derived from the secret: a row rewritten with hashes
    # recomputed by someone without the key fails here, at its own position. None on rows
    # written before links were sealed.
    seal: str | None = None


@dataclass(frozen=True)
class Break:
    """Where verification failed first, and why."""

    reason: str
    position: int | None = None
    aggregate_id: UUID | None = None
    version: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "reason": self.reason,
            "position": self.position,
            "aggregate_id": None if self.aggregate_id is None else str(self.aggregate_id),
            "version": self.version,
        }

    def __str__(self) -> str:
        where = []
        if self.aggregate_id is not None:
            where.append(f"ticket/aggregate {self.aggregate_id} version {self.version}")
        if self.position is not None:
            where.append(f"position {self.position}")
        return f"{self.reason} ({', '.join(where)})" if where else self.reason


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the chain's row at ``position`` had ``chain_hash``."""

    position: int
    chain_hash: str
    created_at: str  # ISO-8601, part of what is signed
    signature: str

    def payload(self) -> bytes:
        return f"atende-checkpoint|{self.position}|{self.chain_hash}|{self.created_at}".encode()

    def is_signed_by(self, key: bytes) -> bool:
        expected = hmac.new(key, self.payload(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.signature)


def sign_checkpoint(key: bytes, position: int, chain_hash_hex: str, created_at: str) -> Checkpoint:
    unsigned = Checkpoint(position, chain_hash_hex, created_at, "")
    signature = hmac.new(key, unsigned.payload(), hashlib.sha256).hexdigest()
    return Checkpoint(position, chain_hash_hex, created_at, signature)


def link_seal(key: bytes, chain_hash_hex: str) -> str:
    # Keyed BLAKE2b is a MAC in one call: verify seals a million rows, and HMAC-SHA256's
    # two passes and key setup cost twice as much per row.
    return hashlib.blake2b(chain_hash_hex.encode("ascii"), key=key, digest_size=32).hexdigest()


def link_rows(
    rows: Iterable[tuple[int, UUID, int, str, bytes, int]],
    prev_event_hashes: dict[tuple[UUID, int], str],
    head_position: int,
    head_chain_hash: str,
    seal_key: bytes | None = None,
) -> list[LinkRow]:
    """The hashes for newly inserted rows (position, id, version, topic, state,
    occurred_at), in position order, given the previous versions' hashes and the head."""
    links = []
    for position, originator_id, version, topic, state, occurred_at in rows:
        prev = GENESIS if version == 1 else prev_event_hashes.get((originator_id, version - 1))
        if prev is None:
            # The library guarantees versions are contiguous, so the previous one exists;
            # an unlinked event would be reported by verify, never silently accepted.
            prev = GENESIS
        eh = event_hash(prev, content_digest(originator_id, version, topic, state))
        ch = chain_hash(head_chain_hash, position, eh)
        seal = None if seal_key is None else link_seal(seal_key, ch)
        link = LinkRow(
            position, originator_id, version, eh, ch, head_position, head_chain_hash, occurred_at,
            seal,
        )  # fmt: skip
        links.append(link)
        prev_event_hashes[(originator_id, version)] = eh
        head_position, head_chain_hash = position, ch
    return links


@dataclass
class ChainWalk:
    """Checks the whole log, row by row in position order.

    Feed it the events table and the link table merged by position (``check``); it keeps
    only each aggregate's last hash and the chain's head, so a million rows fit easily.
    """

    checkpoints: dict[int, Checkpoint] = field(default_factory=dict)
    seal_key: bytes | None = None
    checked: int = 0
    head_position: int = 0
    head_chain_hash: str = GENESIS
    # Each aggregate's last version, its event hash and its id's bytes (raw bytes: the
    # next hash is built from them, and verify walks a million rows).
    _last: dict[UUID, tuple[int, bytes, bytes]] = field(default_factory=dict)
    _sealing: bool = False  # once a sealed row is seen, every later row must be sealed

    def check(self, event: StoredRow | None, link: LinkRow | None) -> Break | None:
        if event is None or link is None:
            return _unpaired(event, link)
        if (
            link.prev_position != self.head_position
            or link.prev_chain_hash != self.head_chain_hash
            or link.originator_id != event.originator_id
            or link.version != event.version
        ):
            return self._misplaced(event, link)
        broken = self._check_event_hash(event, link) or _check_occurred_at(event, link)
        if broken is not None:
            return broken
        if _chain_digest(link).hex() != link.chain_hash:
            return _break("chain hash does not match", event)
        unsealed = self._check_seal(link)
        if unsealed is not None:
            return _break(unsealed, event)
        checkpoint = self.checkpoints.get(link.position)
        if checkpoint is not None and checkpoint.chain_hash != link.chain_hash:
            return _break("chain differs from a signed checkpoint (log rewritten)", event)
        self.head_position, self.head_chain_hash = link.position, link.chain_hash
        self.checked += 1
        return None

    def resume_after(self, link: LinkRow) -> None:
        """Walk on from ``link`` as the head, checked by whoever walked up to it."""
        self.head_position, self.head_chain_hash = link.position, link.chain_hash
        self._sealing = link.seal is not None

    def resume_after_ranges(self, head: tuple[int, str], checked: int) -> None:
        """Take the head and count that walks of the log's ranges, joined, ended on."""
        self.head_position, self.head_chain_hash = head
        self.checked = checked

    def knows(self, originator_id: UUID) -> bool:
        return originator_id in self._last

    def resume_aggregate(self, link: LinkRow) -> None:
        """Take ``link`` (checked by whoever walked up to it) as its aggregate's last."""
        try:
            last = bytes.fromhex(link.event_hash)
        except (TypeError, ValueError):
            return  # not a hash: the walk finds the version missing, and verify names why
        oid = link.originator_id
        self._last[oid] = (link.version, last, oid.bytes)

    def _misplaced(self, event: StoredRow, link: LinkRow) -> Break:
        if (link.originator_id, link.version) != (event.originator_id, event.version):
            return _break("event's id or version differs from its hash record", event)
        return _break(
            f"chain does not link to the previous row (expected position "
            f"{self.head_position}, found {link.prev_position}): rows removed or moved",
            event,
        )

    def _check_seal(self, link: LinkRow) -> str | None:
        if self.seal_key is None:
            return None
        if link.seal is None:
            if self._sealing:
                return "hash record is not sealed (written without the key)"
            return None
        self._sealing = True
        if not hmac.compare_digest(link.seal, link_seal(self.seal_key, link.chain_hash)):
            return "hash record's seal does not match (hashes recomputed without the key)"
        return None

    def _check_event_hash(self, event: StoredRow, link: LinkRow) -> Break | None:
        version = event.version
        if version == 1:
            prev, id_bytes = _GENESIS_BYTES, event.originator_id.bytes
        else:
            last = self._last.get(event.originator_id)
            if last is None or last[0] != version - 1:
                have = 0 if last is None else last[0]
                return _break(f"aggregate's version {have + 1} is missing (deleted)", event)
            _, prev, id_bytes = last
        digest = _content_digest(id_bytes, version, event.topic, event.state)
        computed = hashlib.sha256(b"E" + prev + digest).digest()
        if computed.hex() != link.event_hash:
            return _break("event content does not match its hash (changed)", event)
        self._last[event.originator_id] = (version, computed, id_bytes)
        return None

    def finish(self) -> Break | None:
        """After the last row: a checkpoint beyond the end means the tail was cut off."""
        beyond = [p for p in self.checkpoints if p > self.head_position]
        if beyond:
            return Break(
                f"log ends at position {self.head_position} but a signed checkpoint names "
                f"position {max(beyond)} (tail truncated)",
                max(beyond),
            )
        return None


def _break(reason: str, event: StoredRow) -> Break:
    return Break(reason, event.position, event.originator_id, event.version)


def malformed(event: StoredRow | None, link: LinkRow | None) -> Break:
    row = event if event is not None else link
    assert row is not None
    return Break(
        "row holds a value of a form the recorder never writes (changed out of band)",
        row.position,
        row.originator_id,
        row.version if isinstance(row.version, int) else None,
    )


def _unpaired(event: StoredRow | None, link: LinkRow | None) -> Break:
    if event is not None:
        return _break("event has no hash record (inserted out of band)", event)
    assert link is not None
    return Break(
        "event recorded in the chain is missing from the log (deleted)",
        link.position,
        link.originator_id,
        link.version,
    )


def _check_occurred_at(event: StoredRow, link: LinkRow) -> Break | None:
    """The as-of index must say what the hashed event says (called once its hash held)."""
    if recorded_micros(event.state) != link.occurred_at:
        return Break(
            "event's as-of time differs from the timestamp it was recorded with (moved)",
            event.position,
            event.originator_id,
            event.version,
        )
    return None


# How an anchor signed with the deployment's Ed25519 key marks its signature (older
# checkpoints carry a bare HMAC).
ED25519 = "ed25519:"
# The unanchored window: an anchor (a signed checkpoint kept outside the database) is due
# once this many events, or this much time, have been written since the newest one.
ANCHOR_EVERY_EVENTS = 1000
ANCHOR_EVERY_SECONDS = 60.0


def anchor_due(
    last: Checkpoint | None, head_position: int, now: datetime, every: float = ANCHOR_EVERY_SECONDS
) -> bool:
    """Whether the head must be anchored now: it moved since the newest anchor, and either
    ANCHOR_EVERY_EVENTS positions or ``every`` seconds passed (or there is none yet)."""
    if last is None:
        return head_position > 0
    if head_position <= last.position:
        return False
    elapsed = (now - datetime.fromisoformat(last.created_at)).total_seconds()
    return head_position - last.position >= ANCHOR_EVERY_EVENTS or elapsed >= every


def merge_by_position(
    events: Iterator[StoredRow], links: Iterator[LinkRow]
) -> Iterator[tuple[StoredRow | None, LinkRow | None]]:
    """Pairs two position-ordered streams, with None where one side lacks the position."""
    event, link = next(events, None), next(links, None)
    while event is not None or link is not None:
        if link is None or (event is not None and event.position < link.position):
            yield event, None
            event = next(events, None)
        elif event is None or link.position < event.position:
            yield None, link
            link = next(links, None)
        else:
            yield event, link
            event, link = next(events, None), next(links, None)


def verify_aggregate(
    events: list[StoredRow],
    links: dict[int, LinkRow],
    chain_at: dict[int, str],
    seal_key: bytes | None = None,
) -> Break | None:
    """One aggregate's events (by version) against their hash records. ``chain_at`` maps
    each link's ``prev_position`` to the chain hash actually stored there, so a row's
    link into the global chain is checked too."""
    walk = ChainWalk(seal_key=seal_key)
    for expected_version, event in enumerate(events, start=1):
        if event.version != expected_version:
            return _break(f"aggregate's version {expected_version} is missing (deleted)", event)
        link = links.get(event.position)
        if link is None:
            return walk.check(event, None)
        try:
            broken = _check_in_aggregate(walk, event, link, chain_at)
        except (TypeError, ValueError, AttributeError, OverflowError):
            broken = malformed(event, link)  # a value the recorder never writes
        if broken is not None:
            return broken
    return None


def _check_in_aggregate(
    walk: ChainWalk, event: StoredRow, link: LinkRow, chain_at: dict[int, str]
) -> Break | None:
    broken = walk._check_event_hash(event, link) or _check_occurred_at(event, link)
    if broken is not None:
        return broken
    if chain_at.get(link.prev_position, GENESIS) != link.prev_chain_hash:
        return _break("chain does not link to the previous row", event)
    if _chain_digest(link).hex() != link.chain_hash:
        return _break("chain hash does not match", event)
    unsealed = walk._check_seal(link)
    if unsealed is not None:
        return _break(unsealed, event)
    walk.checked += 1
    return None
