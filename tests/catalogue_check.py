"""Recorded events against the event catalogue, as the OpenAPI document states it.

Each event is validated against its own type's envelope (``TicketOpenedEvent``...), with
every object of the catalogue closed (``additionalProperties: false``: a member the
catalogue does not list is a finding, though the published document leaves objects
open for clients), then against the ``Event`` union the feed's items are documented as.
Formats (uuid, date-time, date) are checked.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import jsonschema_rs
import requests

from interface.events.catalogue import BY_TYPE, UNION

_REF = "#/components/schemas/"


def _closed(schemas: dict[str, Any]) -> dict[str, Any]:
    closed = copy.deepcopy(schemas)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(closed)
    return closed


def validator_for(components: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A JSON Schema 2020-12 validator of ``schema`` (a $ref or an inline schema) against
    an OpenAPI document's ``components``, formats (uuid, date-time...) checked."""
    return jsonschema_rs.Draft202012Validator(
        {**schema, "components": components}, validate_formats=True
    )


class CatalogueCheck:
    def __init__(self, document: dict[str, Any]):
        self.schemas = _closed(document["components"]["schemas"])
        self._validators: dict[str, Any] = {}

    def _validator(self, component: str) -> Any:
        if component not in self._validators:
            self._validators[component] = validator_for(
                {"schemas": self.schemas}, {"$ref": _REF + component}
            )
        return self._validators[component]

    def problems(self, events: Iterable[dict[str, Any]], union: str = UNION) -> list[str]:
        """What is wrong with each event, if anything (the first few)."""
        found: list[str] = []
        for event in events:
            entry = BY_TYPE.get((event.get("aggregate_type"), event.get("type")))
            where = f"{event.get('aggregate_type')}.{event.get('type')} v{event.get('version')}"
            if entry is None:
                found.append(f"{where}: not in the catalogue")
                continue
            for error in self._validator(entry.name + "Event").iter_errors(event):
                found.append(f"{where}: {error.message} at {list(error.instance_path)}")
            if not self._validator(union).is_valid(event):
                found.append(f"{where}: not valid as {union}")
        return found[:20]


def feed(base_url: str, token: str) -> list[dict[str, Any]]:
    """Every event of a running server's feed."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = requests.get(
            f"{base_url}/v1/events",
            params={"after": after, "limit": 1000},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert page.status_code == 200, page.text
        body = page.json()
        if not body["events"]:
            return events
        events += body["events"]
        after = body["next_after"]


def assert_feed_matches_catalogue(base_url: str, token: str) -> set[tuple[str, str]]:
    """Every event a running server recorded is as the document it serves says; returns
    the event types seen."""
    document = requests.get(f"{base_url}/v1/openapi.json", timeout=30).json()
    events = feed(base_url, token)
    problems = CatalogueCheck(document).problems(events)
    assert not problems, "Recorded events the catalogue does not describe:\n" + "\n".join(
        problems
    )
    return {(e["aggregate_type"], e["type"]) for e in events}
