"""Unknown query parameters are refused on every route: a 422 naming each, before the
responder runs. A misspelt or unsupported parameter (``/v1/tickets/{id}/sla?as_of=``)
would otherwise be ignored silently, and the answer would not be what was asked for.

What a route takes is what its OpenAPI operation declares (``Operation.query``, next to
the route in its resource module; create_app hands them all in from
interface/http/operations.py), so the document and the behaviour cannot drift apart. A
route without a declared query, or without an operation at all, takes no parameters: a
new route cannot forget (tests/integration/test_openapi_coverage.py also fails until it
has its operation). Blank values count too (``?as_of=``): Falcon keeps them in ``req.params``
(``keep_blank_qs_values``, on by default since Falcon 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import falcon
from marshmallow import Schema

from interface.http.errors import validation_problem
from interface.http.openapi.operation import Operation


def accepted_names(schema: type[Schema] | Schema | None) -> frozenset[str]:
    """The parameter names a query schema loads (``from``, not ``from_``)."""
    if schema is None:
        return frozenset()
    instance = schema() if isinstance(schema, type) else schema
    return frozenset(f.data_key or name for name, f in instance.load_fields.items())


class QueryParams:
    """Middleware: refuses parameters the matched (route, method) does not declare."""

    def __init__(self, operations: Mapping[tuple[str, str], Operation]):
        self.accepted = {
            (template, method.upper()): accepted_names(op.query)
            for (template, method), op in operations.items()
        }

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: Any
    ) -> None:
        # No resource: Falcon answers 404 itself. No responder for the method: its 405.
        if resource is None or not req.params:
            return
        if not hasattr(resource, f"on_{req.method.lower()}"):
            return
        accepted = self.accepted.get((req.uri_template, req.method), frozenset())
        unknown = sorted(set(req.params) - accepted)
        if unknown:
            takes = ", ".join(sorted(accepted)) if accepted else "no parameters"
            message = f"Unknown parameter; this route takes {takes}."
            raise validation_problem({name: [message] for name in unknown})
