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
from marshmallow import Schema, fields

from interface.events import catalogue
from interface.http.csv_answers import CSV_SUFFIX
from interface.http.idempotency import KEY_PATTERN, MAX_KEY_LENGTH
from interface.http.openapi import descriptions, problems
from interface.http.openapi.enums import name_enums
from interface.http.openapi.examples import add_examples
from interface.http.openapi.operation import Operation, Operations
from interface.http.openapi.operation_ids import OPERATION_IDS
from interface.http.schemas.common import Plain, ProblemOut, text_pattern
from interface.http.schemas.events import CataloguedEvent

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
# Falcon's field converters, as path parameter schemas.
_CONVERTERS = {"uuid": {"type": "string", "format": "uuid"}, "int": {"type": "integer"}}
_FIELD = re.compile(r"{(\w+)(?::(\w+)(?:\([^)]*\))?)?}")
_STRING = {"schema": {"type": "string"}}
_RETRY_AFTER = {
    "description": "Seconds to wait before retrying (when retrying can help).",
    "schema": {"type": "string"},
}
# The IETF httpapi draft's fields, on every answer of a rate-limited route.
_RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": {"description": "Requests the budget allows per window.",
                        "schema": {"type": "string"}},
    "RateLimit-Remaining": {"description": "Requests left in this window.",
                            "schema": {"type": "string"}},
    "RateLimit-Reset": {"description": "Seconds until the budget is whole again.",
                        "schema": {"type": "string"}},
    "RateLimit-Policy": {"description": 'The budget, as "<requests>;w=<seconds>".',
                         "schema": {"type": "string"}},
}  # fmt: skip
DESCRIPTION = (
    "Atende, an event-sourced ticketing backend. Send `Authorization: Bearer <token>` "
    "(tokens: `atende tokens create --role ROLE --name NAME`). Errors are "
    "`application/problem+json` (RFC 9457)."
)


def openapi_path(template: str) -> str:
    """``/v1/tickets/{ticket_id:uuid}`` -> ``/v1/tickets/{ticket_id}``."""
    return _FIELD.sub(lambda m: "{" + m.group(1) + "}", template)


class RulesPlugin(MarshmallowPlugin):
    """apispec's marshmallow plugin, adding what a schema's ``Meta.openapi`` states about
    the whole object: the rules a ``validates_schema`` checks across fields (tags to add
    or remove, weekly hours or always open), so the document says what the server refuses."""

    def schema_helper(self, name: str, _: Any, schema: Any = None, **kwargs: Any) -> Any:
        found = super().schema_helper(name, _, schema=schema, **kwargs)
        cls = schema if isinstance(schema, type) else type(schema)
        rules = getattr(getattr(cls, "Meta", None), "openapi", None)
        if found is not None and rules:
            found.update(rules)
        return found


def build(operations: Operations) -> dict[str, Any]:
    marshmallow = RulesPlugin()
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
    marshmallow.converter.add_attribute_function(_shown_as)
    marshmallow.converter.add_attribute_function(_text_rules)
    marshmallow.converter.add_attribute_function(_object_rules)
    by_path: dict[str, dict[str, Any]] = defaultdict(dict)
    for (template, method), operation in operations.items():
        by_path[template][method] = _operation(template, method, operation)
    for template, methods in by_path.items():
        spec.path(path=openapi_path(template), operations=methods)
    for tag in sorted({op.tag for op in operations.values()}):
        spec.tag({"name": tag, "description": descriptions.TAGS[tag]})
    document = spec.to_dict()
    problems.components(document["components"]["schemas"])
    add_examples(document["components"]["schemas"])
    name_enums(document)
    _describe_parameters(document)
    _describe_properties(document["components"]["schemas"])
    return document


def _describe_properties(schemas: dict[str, Any]) -> None:
    """A member its field does not describe gets what its name means (descriptions.py)."""
    for name, schema in schemas.items():
        for member, prop in schema.get("properties", {}).items():
            if "description" not in prop:
                meaning = descriptions.property_description(name, member)
                if meaning is not None:
                    prop["description"] = meaning


def _describe_parameters(document: dict[str, Any]) -> None:
    """A parameter its schema does not describe gets what its name means everywhere."""
    for methods in document["paths"].values():
        for operation in methods.values():
            for parameter in operation.get("parameters", []):
                if "description" in parameter or "description" in parameter["schema"]:
                    continue
                meaning = descriptions.PARAMETERS.get((parameter["in"], parameter["name"]))
                if meaning is not None:
                    parameter["description"] = meaning


def _text_rules(converter: Any, field: Any, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """A text field's rules (no controls, not blank) as the pattern they amount to, so a
    client (and schemathesis) knows what the server refuses."""
    pattern = text_pattern(field) if "pattern" not in ret else None
    return {"pattern": pattern} if pattern else {}


def _object_rules(converter: Any, field: Any, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """A map's size as JSON Schema counts an object's (apispec writes a Length as
    minLength, which only strings have), and a map whose metadata closes it (members
    listed, no others) closed, whatever apispec made of its values."""
    if not isinstance(field, fields.Dict):
        return {}
    found: dict[str, Any] = {}
    if "minLength" in ret:
        found["minProperties"] = ret.pop("minLength")
    if "maxLength" in ret:
        found["maxProperties"] = ret.pop("maxLength")
    if field.metadata.get("additionalProperties") is False:
        found["additionalProperties"] = False
    return found


def _shown_as(converter: Any, field: Any, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """What apispec cannot tell from a field's class: an event list's items are the
    catalogue's union (every event type, typed); a ``Plain`` value is what it is shown as."""
    if isinstance(field, CataloguedEvent):
        shown: dict[str, Any] = {"$ref": f"#/components/schemas/{field.union}"}
    elif isinstance(field, Plain) and field.shown_as is not None:
        if isinstance(field.shown_as, dict):
            shown = dict(field.shown_as)
        else:
            shown = converter.resolve_nested_schema(field.shown_as)
        if field.many:
            shown = {"type": "array", "items": shown}
        if field.allow_none:
            shown = {"anyOf": [shown, {"type": "null"}]}
        if "description" in ret:
            shown["description"] = ret["description"]
    else:
        return {}
    ret.clear()  # what apispec guessed (an untyped value, nullable) is replaced whole
    return shown


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
    if template.endswith(CSV_SUFFIX):  # a report's CSV twin: getSlaReportCsv
        return _operation_id(template.removesuffix(CSV_SUFFIX), method) + "Csv"
    try:
        return OPERATION_IDS[template, method]
    except KeyError:
        raise KeyError(
            f"{method.upper()} {template} has no operationId: name it in "
            "interface/http/openapi/operation_ids.py"
        ) from None


def _has_required_fields(schema: type[Schema] | Schema) -> bool:
    """Whether an empty body is refused: a field is required, or a rule across fields
    (``Meta.openapi``: tags to add or remove) needs one."""
    instance = schema() if isinstance(schema, type) else schema
    rules = getattr(getattr(instance, "Meta", None), "openapi", None)
    return bool(rules) or any(f.required for f in instance.fields.values())


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
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_KEY_LENGTH,
                    "pattern": f"^{KEY_PATTERN.pattern}$",
                },
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
        types = problems.types_for(
            status, idempotent=op.idempotent, intake=template.startswith("/v1/intake/")
        )
        problem: dict[str, Any] = {
            "description": problems.described(status, HTTPStatus(status).phrase, types),
            "content": {"application/problem+json": {"schema": problems.schema_of(types)}},
            "x-problem-types": [p.uri for p in types],
        }
        if status in (409, 429, 503):
            problem["headers"] = {"Retry-After": _RETRY_AFTER}
        if status == 429:
            problem["headers"].update(_RATE_LIMIT_HEADERS)
        if str(status) in responses:  # also a success status (health's 503): either body
            responses[str(status)]["content"].update(problem["content"])
            responses[str(status)]["x-problem-types"] = problem["x-problem-types"]
            continue
        responses[str(status)] = problem
    return responses


def _success(op: Operation, status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if status == 304:  # the client's copy (If-None-Match) is current: no body
        return {**answer, "headers": {"ETag": _STRING}}
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
    if op.rate_limited:
        headers.update(_RATE_LIMIT_HEADERS)
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
    statuses.add(500)  # an unexpected error: a problem naming the request id, never a trace
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
