"""Build the OpenAPI 3.1 document from the routes' operations (interface/http/operations.py
collects them), with apispec and its marshmallow plugin (the same schemas that load and
dump the bodies)."""

from __future__ import annotations

import re
from collections import defaultdict
from http import HTTPStatus
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from interface.events import catalogue
from interface.http.idempotency import MAX_KEY_LENGTH
from interface.http.openapi.operation import Operation, Operations
from interface.http.openapi.operation_ids import OPERATION_IDS
from interface.http.schemas.common import ProblemOut
from interface.http.schemas.events import CataloguedEvent

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
# Falcon's field converters, as path parameter schemas.
_CONVERTERS = {"uuid": {"type": "string", "format": "uuid"}, "int": {"type": "integer"}}
_FIELD = re.compile(r"{(\w+)(?::(\w+)(?:\([^)]*\))?)?}")
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_STRING = {"schema": {"type": "string"}}
DESCRIPTION = (
    "Atende, an event-sourced ticketing backend. Send `Authorization: Bearer <token>` "
    "(tokens: `atende tokens create --role ROLE --name NAME`). Errors are "
    "`application/problem+json` (RFC 9457)."
)


def openapi_path(template: str) -> str:
    """``/v1/tickets/{ticket_id:uuid}`` -> ``/v1/tickets/{ticket_id}``."""
    return _FIELD.sub(lambda m: "{" + m.group(1) + "}", template)


def build(operations: Operations) -> dict[str, Any]:
    marshmallow = MarshmallowPlugin()
    spec = APISpec(
        title="Atende",
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        plugins=[marshmallow],
        info={"description": DESCRIPTION, "license": {"name": "MIT", "identifier": "MIT"}},
        # Relative: the document is served by the server it describes, wherever that is.
        servers=[{"url": "/", "description": "The server that serves this document"}],
        security=[{"bearer": []}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", schema=ProblemOut)
    catalogue.components(spec)
    marshmallow.converter.add_attribute_function(_catalogued_union)
    by_path: dict[str, dict[str, Any]] = defaultdict(dict)
    for (template, method), operation in operations.items():
        by_path[template][method] = _operation(template, method, operation)
    for template, methods in by_path.items():
        spec.path(path=openapi_path(template), operations=methods)
    return spec.to_dict()


def _catalogued_union(converter: Any, field: Any, **_: Any) -> dict[str, Any]:
    """A list of events shows the catalogue's union (every event type, typed)."""
    if isinstance(field, CataloguedEvent):
        return {"$ref": f"#/components/schemas/{field.union}"}
    return {}


def _operation(template: str, method: str, op: Operation) -> dict[str, Any]:
    roles = "anyone, no token" if op.roles is None else ", ".join(op.roles)
    document: dict[str, Any] = {
        "operationId": _operation_id(template, method),
        "summary": op.summary,
        "description": f"Roles: {roles}. {op.description}".strip(),
        "tags": [op.tag],
        "parameters": _parameters(template, op),
        "responses": _responses(template, op),
        "x-roles": list(op.roles) if op.roles is not None else [],
    }
    if op.roles is None:
        document["security"] = []
    if op.body is not None:
        document["requestBody"] = {
            "required": _has_required_fields(op.body),
            "content": {"application/json": {"schema": op.body}},
        }
    elif op.raw_body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {media: {"schema": s} for media, s in op.raw_body.items()},
        }
    return document


def _operation_id(template: str, method: str) -> str:
    try:
        return OPERATION_IDS[template, method]
    except KeyError:
        raise KeyError(
            f"{method.upper()} {template} has no operationId: name it in "
            "interface/http/openapi/operation_ids.py"
        ) from None


def _has_required_fields(schema: type[Schema] | Schema) -> bool:
    instance = schema() if isinstance(schema, type) else schema
    return any(f.required for f in instance.fields.values())


def _parameters(template: str, op: Operation) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {
            "in": "path",
            "name": name,
            "required": True,
            "schema": op.path_schemas.get(name, _CONVERTERS.get(converter, {"type": "string"})),
        }
        for name, converter in _FIELD.findall(template)
    ]
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    if op.idempotent:
        parameters.append(
            {
                "in": "header",
                "name": "Idempotency-Key",
                "description": "A retry with the same key and body returns the first answer.",
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
            }
        )
    if op.if_match:
        parameters.append(
            {
                "in": "header",
                "name": "If-Match",
                "description": 'The ETag last answered (e.g. "3"); 412 when it has moved on.',
                "schema": {"type": "string"},
            }
        )
    return parameters


def _responses(template: str, op: Operation) -> dict[str, Any]:
    responses = {str(status): _success(op, status) for status in op.statuses}
    if op.query is not None:
        # gunicorn's own answer, before the app, to a request line over 4094 bytes.
        responses["414"] = {"description": "URI Too Long (from the HTTP server, as text)"}
    for status in sorted(_error_statuses(template, op)):
        problem: dict[str, Any] = {"description": HTTPStatus(status).phrase, "content": _PROBLEM}
        if status in (429, 503):
            problem["headers"] = {"Retry-After": _STRING}
        responses[str(status)] = problem
    return responses


def _success(op: Operation, status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if op.response is not None:
        answer["content"] = {"application/json": {"schema": op.response}}
    elif op.raw_response is not None:
        answer["content"] = {media: {"schema": s} for media, s in op.raw_response.items()}
    if op.csv:
        answer["content"]["text/csv"] = _STRING
    headers = {}
    if op.etag:
        headers["ETag"] = _STRING
    if status == 201:
        headers["Location"] = _STRING
    if op.idempotent:
        headers["Idempotent-Replayed"] = {"schema": {"type": "string", "enum": ["true"]}}
    if headers:
        answer["headers"] = headers
    return answer


def _error_statuses(template: str, op: Operation) -> set[int]:
    """The errors any operation of this kind can answer, and its own."""
    statuses = set(op.errors)
    if op.roles is not None:
        statuses |= {401, 403}
    if op.body is not None or op.raw_body is not None:
        statuses |= {400, 413, 415, 422}
    # Every route refuses query parameters it does not take (middleware/query_params.py).
    statuses.add(422)
    if op.idempotent:
        statuses.add(409)  # the same key still in flight
    if op.if_match:
        statuses.add(412)
    if _FIELD.search(template):
        statuses.add(404)
    if op.response is not None:
        statuses.add(503)  # the database is unavailable or a view is behind
    if op.rate_limited:
        statuses.add(429)  # the token's (or, on public routes, the address's) budget is spent
    return statuses
