"""Checking an export file offline (``atende audit verify --file``), with no database.

Every line must hash to what it says, link to the previous version of its aggregate
when that is in the file, and, in a range export (which has no gaps by construction),
link to the line before it in the global chain, from the first position to the last.
Without the deployment key a file whose every hash was recomputed cannot be told apart;
verifying against the database (``atende audit verify``) checks the signed checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from application.audit import VerifyReport
from domain.audit_chain import GENESIS, Break, chain_hash, content_digest, event_hash


class ExportFileError(Exception):
    """The file is not an Atende export at all."""


def verify_export(lines: Iterable[str]) -> VerifyReport:
    numbered = ((n, line) for n, line in enumerate(lines, start=1) if line.strip())
    try:
        _, header_text = next(numbered)
        header = json.loads(header_text)
        scope = header["scope"]
    except (StopIteration, ValueError, KeyError, TypeError) as error:
        raise ExportFileError("the first line is not an Atende export header") from error
    last_of: dict[UUID, tuple[int, str]] = {}
    previous: dict[str, Any] | None = None
    checked = 0
    for number, text in numbered:
        try:
            line = json.loads(text)
            broken = _check_line(line, last_of, previous, scope)
        except (ValueError, KeyError, TypeError, AttributeError):
            broken = Break(f"line {number} is not a well-formed event line")
        if broken is not None:
            return VerifyReport("file", checked, _position(previous), 0, broken)
        last_of[UUID(line["aggregate_id"])] = (line["version"], line["event_hash"])
        previous = line
        checked += 1
    broken = None
    if "last_position" in scope and scope["last_position"] != _position(previous):
        broken = Break(
            f"the file ends at position {_position(previous)} but its header says "
            f"{scope['last_position']} (lines removed)"
        )
    return VerifyReport("file", checked, _position(previous), 0, broken)


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


def _position(line: dict[str, Any] | None) -> int:
    return 0 if line is None else line["position"]
