"""What the OpenAPI document says about a route: one ``Operation`` per (route template,
method), the template written exactly as ``app.add_route`` registers it.

Each resource module declares the operations of its routes in a module-level
``OPERATIONS`` mapping; interface/http/operations.py collects them.
tests/integration/test_openapi_coverage.py fails while a route in the router has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema

PUBLIC = None  # roles of a route that needs no token
ADMIN = ("admin",)  # roles of a route whose responders are guarded by ``allow()``


@dataclass(frozen=True)
class Operation:
    """One route and method, as integrators see it.

    ``statuses`` are the success answers; the error answers every operation of its kind
    can give (401/403 with a token, 422 with a query or body...) are added by the
    builder, ``errors`` names the others (404, 409...).
    """

    summary: str
    tag: str
    roles: tuple[str, ...] | None
    response: type[Schema] | Schema | None = None
    statuses: tuple[int, ...] = (200,)
    query: type[Schema] | Schema | None = None
    body: type[Schema] | Schema | None = None
    errors: tuple[int, ...] = ()
    description: str = ""
    idempotent: bool = False  # honours Idempotency-Key
    if_match: bool = False  # honours If-Match with the ETag
    etag: bool = False  # answers with ETag
    csv: bool = False  # answers text/csv to Accept: text/csv
    rate_limited: bool = True  # probes and scrapes are not (their resources are unlimited)
    # Non-JSON bodies: a media type -> OpenAPI schema (raw email, the docs page).
    raw_body: dict[str, Any] | None = None
    raw_response: dict[str, Any] | None = None
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)


# (route template, method) -> its operation: a resource module's OPERATIONS, or all of them.
Operations = dict[tuple[str, str], Operation]
