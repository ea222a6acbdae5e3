"""Opaque pagination cursors: the sort key of the last item shown, bound to its filters."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from typing import Any

from interface.http.errors import validation_problem

MAX_KEY_TEXT = 1024


def filters_digest(filters: dict[str, Any]) -> str:
    canonical = json.dumps(filters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(key: tuple, filters: dict[str, Any]) -> str:
    raw = json.dumps({"k": list(key), "f": filters_digest(filters)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str, filters: dict[str, Any], key_types: tuple[type, ...]) -> tuple:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        doc = json.loads(raw)
        key, digest = doc["k"], doc["f"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise validation_problem({"cursor": ["Not a valid cursor."]}) from None
    if not _has_types(key, key_types):
        raise validation_problem({"cursor": ["Not a valid cursor."]})
    if digest != filters_digest(filters):
        raise validation_problem({"cursor": ["This cursor belongs to a query with other filters."]})
    return tuple(key)


def _has_types(key: Any, key_types: tuple[type, ...]) -> bool:
    return (
        isinstance(key, list)
        and len(key) == len(key_types)
        and all(
            isinstance(v, t) and not isinstance(v, bool) and _in_bounds(v)
            for v, t in zip(key, key_types, strict=True)
        )
    )


def _in_bounds(value: Any) -> bool:
    # A cursor comes back from the client: SQLite cannot bind an int beyond 64 bits (500),
    # and no sort key Atende writes is a non-finite float or a long string.
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= MAX_KEY_TEXT
    return True
