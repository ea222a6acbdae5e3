"""Assertions shared by the bad-input tests: problem+json shape, nothing stored."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from tests.e2e.api import Api

MiB = 1024 * 1024
KiB64 = 64 * 1024
PROBLEM_MEMBERS = ("type", "title", "status", "detail")
# A body the server refuses unread (413) is not drained: gunicorn drops the connection
# afterwards, so oversize requests do not share a kept-alive connection with the next one.
ONE_SHOT = {"Connection": "close"}


def assert_problem(response: requests.Response, status: int, *fields: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; for 422 its ``errors``
    name every one of ``fields``."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    doc = response.json()
    for member in PROBLEM_MEMBERS:
        assert member in doc, (member, doc)
    assert doc["status"] == status
    assert isinstance(doc["type"], str) and doc["type"]
    assert isinstance(doc["title"], str) and doc["title"]
    assert isinstance(doc["detail"], str) and doc["detail"]
    if status == 422:
        assert isinstance(doc.get("errors"), dict) and doc["errors"], doc
        for field in fields:
            assert field in doc["errors"], (field, doc["errors"])
            assert doc["errors"][field] and all(isinstance(m, str) for m in doc["errors"][field])
    return doc


def head(reader: Api) -> int:
    response = reader.get("/v1/events", params={"after": 0, "limit": 1})
    assert response.status_code == 200, response.text
    return response.json()["head"]


def history(reader: Api, ticket_id: str) -> list[dict[str, Any]]:
    response = reader.get(f"/v1/tickets/{ticket_id}/history")
    assert response.status_code == 200, response.text
    return response.json()["events"]


@contextmanager
def nothing_stored(reader: Api, *ticket_ids: str) -> Iterator[None]:
    """The global feed head and the given tickets' histories are the same after the block."""
    head_before = head(reader)
    histories_before = [history(reader, tid) for tid in ticket_ids]
    yield
    assert head(reader) == head_before, "an event was stored for a rejected request"
    assert [history(reader, tid) for tid in ticket_ids] == histories_before


def post_raw(
    api: Api, path: str, data: Any, content_type: str = "application/json", **headers: str
) -> requests.Response:
    return api.post(path, data=data, headers={"Content-Type": content_type, **headers})


def padded_to(document: dict[str, Any], size: int) -> bytes:
    """The JSON document followed by whitespace, exactly ``size`` bytes long (still valid JSON)."""
    raw = json.dumps(document).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def key() -> str:
    return f"bad-input-{uuid.uuid4()}"
