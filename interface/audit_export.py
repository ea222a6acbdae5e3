"""The export format: JSON Lines, one header line then one line per event.

Byte-identical on every run over the same log: keys sorted, no whitespace, no export
time. Each line carries the stored state exactly as recorded (personal fields are
ciphertext there) and its hashes, so ``atende audit verify --file`` can recompute them
offline. The readable fields (``type``, ``occurred_at``, ``actor``, ``data``...) are
rendered from that state alone, with no key, so the same check re-renders and compares
them: a personal field reads ``"[sealed]"``, whether or not its owner was erased since.
Personal text is read through the history (which the access log records), never from a
file that leaves the system.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoding,
    UUIDAsHex,
)

from application.audit import ExportedEvent
from application.audit_file import FORMAT_VERSION
from application.tickets import recorded_event
from application.transcodings import ActorAsDict
from domain.audit_chain import StoredRow
from domain.personal import Personal
from interface.http.schemas.common import plain

SEALED = "[sealed]"


class PersonalUnread(Transcoding):
    """A personal field as an export shows it: whose it is, never what it says."""

    type = Personal
    name = "personal"

    def encode(self, obj: Personal) -> dict[str, str]:
        raise TypeError("exports read stored events; they never write personal data")

    def decode(self, data: dict[str, Any]) -> Personal:
        return Personal(UUID(data["owner"]), SEALED)


def _unread_mapper() -> Mapper[UUID]:
    # The transcodings events are written with (TicketApplication.register_transcodings),
    # personal data left sealed.
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), ActorAsDict()):
        transcoder.register(transcoding)
    transcoder.register(PersonalUnread())
    return Mapper(transcoder=transcoder)


_MAPPER = _unread_mapper()


def export_lines(scope: dict[str, Any], exported: Iterator[ExportedEvent]) -> Iterator[bytes]:
    yield _line({"atende_export": FORMAT_VERSION, "scope": scope})
    for item in exported:
        yield _line(_event_line(item))


def readable_fields(row: StoredRow) -> dict[str, Any]:
    """What a line says about its event beyond the hashed row, from the row alone."""
    stored = StoredEvent(row.originator_id, row.version, row.topic, row.state)
    event = recorded_event(_MAPPER.to_domain_event(stored), position=row.position)
    return {
        "aggregate_type": event.aggregate_type,
        "ticket_id": None if event.ticket_id is None else str(event.ticket_id),
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": plain(event.actor),
        "data": plain(event.data),
    }


def _event_line(item: ExportedEvent) -> dict[str, Any]:
    link = item.link
    return {
        "position": item.row.position,
        "aggregate_id": str(item.row.originator_id),
        "version": item.row.version,
        "topic": item.row.topic,
        "state": item.row.state.decode("utf-8"),
        **readable_fields(item.row),
        "prev_event_hash": item.prev_event_hash,
        "event_hash": None if link is None else link.event_hash,
        "prev_position": None if link is None else link.prev_position,
        "prev_chain_hash": None if link is None else link.prev_chain_hash,
        "chain_hash": None if link is None else link.chain_hash,
    }


def _line(obj: dict[str, Any]) -> bytes:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8") + b"\n"
