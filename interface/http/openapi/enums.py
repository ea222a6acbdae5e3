"""Named enum components: every inline ``enum`` of the document that is one of these
vocabularies becomes a ``$ref`` to it, so inputs, outputs, query parameters and events share
one ``Channel`` (a generated client gets one type, not one per place it appears)."""

from __future__ import annotations

from typing import Any

from domain.actor import ROLES
from domain.routing import AVAILABILITIES
from domain.sla.policy import METRICS
from domain.ticket_vocabulary import (
    AUTHOR_TYPES,
    CHANNELS,
    PRIORITIES,
    SETTABLE_STATUSES,
    STATUSES,
    VISIBILITIES,
)
from projections.queue import ACTIVE as QUEUE_STATUSES

NAMED_ENUMS: dict[str, tuple[tuple[str, ...], str]] = {
    "Channel": (CHANNELS, "Where a contact came from, or where a reply goes."),
    "Priority": (PRIORITIES, "A ticket's priority."),
    "Status": (STATUSES, "A ticket's status."),
    "SettableStatus": (SETTABLE_STATUSES, "The statuses a command can set."),
    "QueueStatus": (QUEUE_STATUSES, "The statuses of the tickets in the queue."),
    "AuthorType": (AUTHOR_TYPES, "Who wrote a message."),
    "Visibility": (VISIBILITIES, "Internal notes are never shown to the customer."),
    "Availability": (AVAILABILITIES, "Whether an agent takes tickets now."),
    "Role": (ROLES, "What a token may do."),
    "Metric": (METRICS, "What an SLA timer measures."),
    "TokenStatus": (("active", "expired", "revoked"), "Whether a token works."),
}
_BY_VALUES = {frozenset(values): name for name, (values, _) in NAMED_ENUMS.items()}


def name_enums(document: dict[str, Any]) -> None:
    """Add the named enums to the document's components, and refer to them."""
    _replace(document)
    schemas = document["components"]["schemas"]
    for name, (values, description) in NAMED_ENUMS.items():
        schemas[name] = {"type": "string", "enum": list(values), "description": description}


def _replace(node: Any) -> Any:
    if isinstance(node, list):
        return [_replace(item) for item in node]
    if not isinstance(node, dict):
        return node
    for key, value in node.items():
        node[key] = _replace(value)
    values = node.get("enum")
    if not isinstance(values, list):
        return node
    name = _BY_VALUES.get(frozenset(v for v in values if v is not None))
    if name is None:
        return node
    named: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
    if None in values or "null" in node.get("type", ()):
        named = {"anyOf": [named, {"type": "null"}]}
    kept = {k: v for k, v in node.items() if k in ("description", "default", "x-personal")}
    return {**named, **kept}
