"""Checking an export file offline (``atende audit verify --file``), with no database.

Every line must hash to what it says, link to the previous version of its aggregate
when that is in the file, and, in a range export (which has no gaps by construction),
link to the line before it in the global chain, from the first position to the last.
What a line says beyond the hashed row (``type``, ``occurred_at``, ``actor``, ``data``...)
must be exactly what that row renders to, and a line may hold nothing else.
A range file's header also carries the anchors inside its range: given the deployment's
public key (``--public-key``, from ``atende audit public-key``), a file whose every hash was
recomputed no longer matches them. No secret is needed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import TopicError

from application.audit import VerifyReport
from domain.audit_chain import (
    GENESIS,
    Break,
    Checkpoint,
    StoredRow,
    chain_hash,
    content_digest,
    event_hash,
)

# 2: every field of a line is checked (1 carried readable fields nothing checked).
FORMAT_VERSION = 2
HASHED_FIELDS = frozenset(
    {
        "position",
        "aggregate_id",
        "version",
        "topic",
        "state",
        "prev_event_hash",
        "event_hash",
        "prev_position",
        "prev_chain_hash",
        "chain_hash",
    }
)

# The readable fields of a line, rendered from its row alone (interface.audit_export).
Renderer = Callable[[StoredRow], dict[str, Any]]
# Whether a signature over a payload is the deployment's (its Ed25519 public key).
AnchorCheck = Callable[[bytes, str], bool]


class ExportFileError(Exception):
    """The file is not an Atende export this version can check."""


def verify_export(
    lines: Iterable[str], readable: Renderer, anchor_holds: AnchorCheck | None = None
) -> VerifyReport:
    """``anchor_holds(payload, signature)`` checks an anchor with the deployment's public
    key (no secret); without it a range file's anchors are left unchecked (0 counted)."""
    numbered = ((n, line) for n, line in enumerate(lines, start=1) if line.strip())
    scope = _scope(next(numbered, (0, ""))[1])
    anchors = _anchors(scope)
    anchored = {a.position for a in anchors}
    chain_at: dict[int, str] = {}
    last_of: dict[UUID, tuple[int, str]] = {}
    first: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    checked = 0
    for number, text in numbered:
        try:
            line = json.loads(text)
            broken = _check_line(line, last_of, previous, scope) or _check_readable(line, readable)
        except (ValueError, KeyError, TypeError, AttributeError, TopicError):
            broken = Break(f"line {number} is not a well-formed event line")
        if broken is not None:
            return VerifyReport("file", checked, _position(previous), 0, broken)
        last_of[UUID(line["aggregate_id"])] = (line["version"], line["event_hash"])
        if line["position"] in anchored:
            chain_at[line["position"]] = line["chain_hash"]
        first, previous = first or line, line
        checked += 1
    broken = _check_ends(scope, first, previous)
    if broken is None and anchor_holds is not None:
        broken = _check_anchors(anchors, chain_at, anchor_holds)
    counted = len(anchors) if anchor_holds is not None else 0
    return VerifyReport("file", checked, _position(previous), counted, broken)


def _check_anchors(
    anchors: list[Checkpoint], chain_at: dict[int, str], anchor_holds: AnchorCheck
) -> Break | None:
    """Each anchor the header carries must be the deployment's signature of what the file
    holds at its position: a file rehashed from some line on cannot match it."""
    for anchor in anchors:
        if not anchor_holds(anchor.payload(), anchor.signature):
            return Break("an anchor's signature does not verify with the public key",
                         anchor.position)  # fmt: skip
        if chain_at.get(anchor.position) != anchor.chain_hash:
            return Break("the file's chain differs from a signed anchor (rewritten)",
                         anchor.position)  # fmt: skip
    return None


def _anchors(scope: dict[str, Any]) -> list[Checkpoint]:
    try:
        return [Checkpoint(**anchor) for anchor in scope.get("anchors", [])]
    except (TypeError, AttributeError) as error:
        raise ExportFileError("the header's anchors are not anchors") from error


def _scope(header_text: str) -> dict[str, Any]:
    try:
        header = json.loads(header_text)
        scope, version = header["scope"], header["atende_export"]
        if "from" in scope:  # a range: its bounds are checked against the file's ends
            _instant(scope["from"]), _instant(scope["to"])
    except (ValueError, KeyError, TypeError) as error:
        raise ExportFileError("the first line is not an Atende export header") from error
    if version != FORMAT_VERSION:
        raise ExportFileError(
            f"export format {version!r} cannot be checked (this Atende checks format "
            f"{FORMAT_VERSION}): export it again"
        )
    if header.keys() != {"atende_export", "scope"}:
        raise ExportFileError("the header holds fields no export writes")
    return scope


def _check_ends(
    scope: dict[str, Any], first: dict[str, Any] | None, last: dict[str, Any] | None
) -> Break | None:
    """A range export runs from the first event at or after ``from`` to the last at or
    before ``to``: its ends must say so (their times were checked against their state)."""
    if "last_position" not in scope:
        return None
    if scope["last_position"] != (None if last is None else last["position"]):
        return Break(
            f"the file ends at position {_position(last)} but its header says "
            f"{scope['last_position']} (lines removed)"
        )
    start, end = _instant(scope["from"]), _instant(scope["to"])
    for line in (first, last):
        if line is not None and not start <= _instant(line["occurred_at"]) <= end:
            return Break(
                "the header's from and to do not hold the file's first and last events",
                line["position"],
                UUID(line["aggregate_id"]),
                line["version"],
            )
    return None


def _check_line(
    line: dict[str, Any],
    last_of: dict[UUID, tuple[int, str]],
    previous: dict[str, Any] | None,
    scope: dict[str, Any],
) -> Break | None:
    position, version = line["position"], line["version"]
    aggregate = UUID(line["aggregate_id"])
    where = (position, aggregate, version)
    if line["event_hash"] is None:
        return Break("event has no hash record (inserted out of band)", *where)
    digest = content_digest(aggregate, version, line["topic"], line["state"].encode("utf-8"))
    if event_hash(line["prev_event_hash"], digest) != line["event_hash"]:
        return Break("event content does not match its hash (changed)", *where)
    if chain_hash(line["prev_chain_hash"], position, line["event_hash"]) != line["chain_hash"]:
        return Break("chain hash does not match", *where)
    known = last_of.get(aggregate)
    if version == 1 and line["prev_event_hash"] != GENESIS:
        return Break("first version does not start its aggregate's chain", *where)
    if known is not None and (known[0] != version - 1 or known[1] != line["prev_event_hash"]):
        return Break(f"aggregate's version {known[0] + 1} is missing or differs", *where)
    if "ticket" in scope and line["aggregate_id"] != scope["ticket"]:
        return Break("line is not of the ticket its header names", *where)
    if "ticket" in scope and known is None and version != 1:
        return Break("ticket's first versions are missing", *where)
    if "first_position" in scope:
        if previous is None and position != scope["first_position"]:
            return Break("the file does not start where its header says", *where)
        if previous is not None and (
            line["prev_position"] != previous["position"]
            or line["prev_chain_hash"] != previous["chain_hash"]
        ):
            return Break("chain does not link to the line before (lines removed)", *where)
    return None


def _check_readable(line: dict[str, Any], readable: Renderer) -> Break | None:
    """Called once the line's hashes held, so its row is the one recorded."""
    aggregate, version = UUID(line["aggregate_id"]), line["version"]
    where = (line["position"], aggregate, version)
    row = StoredRow(line["position"], aggregate, version, line["topic"], line["state"].encode())
    expected = readable(row)
    unexpected = line.keys() - HASHED_FIELDS - expected.keys()
    if unexpected:
        return Break(f"line holds fields no export writes: {sorted(unexpected)}", *where)
    for name, value in sorted(expected.items()):
        # Compared as the export wrote them (JSON, keys sorted): 1, 1.0 and true differ.
        if name not in line or _canonical(line[name]) != _canonical(value):
            return Break(f"line's {name} differs from its hashed state (edited)", *where)
    return None


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no offset")
    return moment


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _position(line: dict[str, Any] | None) -> int:
    return 0 if line is None else line["position"]
