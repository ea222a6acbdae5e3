"""docs/events.md, rendered from the catalogue (``python -m interface.events >
docs/events.md``); tests/unit/test_event_catalogue.py fails while the page and the
catalogue differ."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from marshmallow import Schema, fields

from application.tickets import aggregate_type_of_class
from interface.events.catalogue import AGGREGATES, CATALOGUE, EventType, union_name

INTRO = """\
# The event catalogue

Every change in Atende is an event, and events are how changes leave it: the event feed
(`GET /v1/events?after=<position>`) and a ticket's history
(`GET /v1/tickets/{id}/history`) show them in this shape:

```json
{"position": 42, "ticket_id": "…", "aggregate_type": "ticket", "aggregate_id": "…",
 "version": 3, "type": "assigned", "schema_version": 1,
 "occurred_at": "2026-12-05T14:03:11.204+00:00",
 "actor": {"id": "…", "name": "crm", "role": "integrator"},
 "data": {"agent_id": "…", "reason": null}}
```

- `aggregate_type` and `type` together name the event type (`type` alone is not unique:
  a survey and an API token are both `issued`). The OpenAPI document (`/v1/openapi.json`)
  has one schema per event type (`TicketOpenedEvent`, its data `TicketOpenedData`), a
  union per aggregate discriminated on `type` (`TicketEvent`: a history's items) and
  `Event`, the union of those, told apart by `aggregate_type` (the feed's items).
- `schema_version` is the version of the type's shape. A change to a shape raises it
  and adds an upcaster, so events stored in an older shape read in the newest one: a
  consumer only ever sees the current version.
- `position` is in the feed only; a history's events have none.
- Members marked **personal** are the customer's data: encrypted with the customer's key,
  they read `[erased]` once the customer is erased.
- Events the system records by itself (SLA clock, router, follow-up sweep) have an actor
  with role `system`; a survey's rating, role `customer`.
- The secret hashes and seals of API tokens and survey links are never shown.

This page is generated from the catalogue (`interface/events/`): do not edit it by hand,
run `python -m interface.events > docs/events.md`.
"""


def render() -> str:
    return "\n".join(_lines()) + "\n"


def _lines() -> Iterator[str]:
    yield INTRO
    yield "## Contents\n"
    for aggregate in AGGREGATES:
        kind = aggregate_type_of_class(aggregate.Event)
        entries = _of(aggregate)
        names = ", ".join(f"[`{e.type}`](#{_anchor(e)})" for e in entries)
        yield f"- `{kind}` ({union_name(aggregate)}): {names}"
    for aggregate in AGGREGATES:
        yield ""
        yield f"## `{aggregate_type_of_class(aggregate.Event)}`"
        for entry in _of(aggregate):
            yield from _entry(entry)


def _of(aggregate: type) -> list[EventType]:
    return [e for e in CATALOGUE if e.aggregate is aggregate]


def _anchor(entry: EventType) -> str:
    return f"{entry.aggregate_type}-{entry.type}".replace("_", "-")


def _entry(entry: EventType) -> Iterator[str]:
    yield ""
    yield f'### <a id="{_anchor(entry)}"></a>`{entry.aggregate_type}` · `{entry.type}`'
    yield ""
    yield f"{entry.description} Version {entry.version}; schema `{entry.name}Event`."
    yield ""
    if entry.data is None or not entry.data().fields:
        yield "No data."
        return
    yield "| member | type | meaning |"
    yield "|---|---|---|"
    yield from _members(entry.data())


def _members(schema: Schema, prefix: str = "") -> Iterator[str]:
    for name, field in schema.fields.items():
        meaning = field.metadata.get("description", "").replace("|", "\\|")
        if field.metadata.get("x-personal"):
            meaning = "**personal** " + meaning.split(" Personal:")[0]
        if not field.required:
            meaning += " Not always present."
        yield f"| `{prefix}{name}` | {_type(field)} | {meaning} |"
        nested = getattr(field, "schema", None)
        if isinstance(nested, Schema):
            many = "[]" if getattr(field, "many", False) else ""
            yield from _members(nested, f"{prefix}{name}{many}.")


def _type(field: fields.Field) -> str:
    found = _base_type(field)
    return f"{found} or null" if field.allow_none else found


_BASE_TYPES: list[tuple[type, str]] = [
    (fields.UUID, "uuid"),
    (fields.AwareDateTime, "date-time"),
    (fields.Date, "date"),
    (fields.Boolean, "boolean"),
    (fields.Integer, "integer"),
    (fields.Float, "number"),
    (fields.String, "string"),
]


def _base_type(field: Any) -> str:
    choices = getattr(field.validate, "choices", None)
    if choices:
        return " \\| ".join(f"`{c}`" for c in choices)
    if isinstance(field, fields.Nested):
        return "list of objects" if field.many else "object"
    if isinstance(field, fields.List):
        return f"list of {_base_type(field.inner)}"
    if isinstance(field, fields.Dict):
        return "object"
    return next(name for kind, name in _BASE_TYPES if isinstance(field, kind))
