"""The export format: JSON Lines, one header line then one line per event.

Byte-identical on every run over the same log: keys sorted, no whitespace, no export
time. Each line carries the stored state exactly as recorded (personal fields are
ciphertext there) and its hashes, so ``atende audit verify --file`` can recompute them
offline; ``data`` is the same event as the history shows it, for people to read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from application.audit import ExportedEvent
from application.tickets import recorded_event
from interface.schemas import plain

FORMAT_VERSION = 1


def export_lines(scope: dict[str, Any], exported: Iterator[ExportedEvent]) -> Iterator[bytes]:
    yield _line({"atende_export": FORMAT_VERSION, "scope": scope})
    for item in exported:
        yield _line(_event_line(item))


def _event_line(item: ExportedEvent) -> dict[str, Any]:
    event = recorded_event(item.domain_event, position=item.row.position)
    link = item.link
    return {
        "position": item.row.position,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": str(item.row.originator_id),
        "ticket_id": None if event.ticket_id is None else str(event.ticket_id),
        "version": item.row.version,
        "type": event.type,
        "topic": item.row.topic,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": plain(event.actor),
        "data": plain(event.data),
        "state": item.row.state.decode("utf-8"),
        "prev_event_hash": item.prev_event_hash,
        "event_hash": None if link is None else link.event_hash,
        "prev_position": None if link is None else link.prev_position,
        "prev_chain_hash": None if link is None else link.prev_chain_hash,
        "chain_hash": None if link is None else link.chain_hash,
    }


def _line(obj: dict[str, Any]) -> bytes:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8") + b"\n"
