"""Every answer the e2e tests get through ``Api`` is checked against the OpenAPI document
the server serves: its status is documented for the operation, and a JSON body validates
against the documented schema (formats included). So the document's ``required`` lists,
types and enums are claims thousands of real requests test, not only schemathesis's.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any
from urllib.parse import urlsplit

import requests

from interface.http.openapi.problems import BY_SLUG
from interface.http.operations import build_document
from tests.catalogue_check import validator_for

_JSON_TYPES = ("application/json", "application/problem+json")


class DocumentedAnswers:
    def __init__(self, document: dict[str, Any]):
        self.components = document["components"]
        # Literal segments before parameters: /v1/tickets/by-number/{n} is not a ticket id.
        self.routes = sorted(
            (
                (method.upper(), _pattern(path), operation)
                for path, methods in document["paths"].items()
                for method, operation in methods.items()
            ),
            key=lambda route: route[1].pattern.count("[^/]+"),
        )
        self._validators: dict[str, Any] = {}

    def problems(self, response: requests.Response) -> list[str]:
        request = response.request
        path = urlsplit(request.url).path
        operation = next(
            (op for method, pattern, op in self.routes
             if method == request.method and pattern.fullmatch(path)),
            None,
        )  # fmt: skip
        if operation is None:
            return []  # an undocumented route: its 404/405 is the router's
        where = f"{request.method} {path} -> {response.status_code}"
        documented = operation["responses"].get(str(response.status_code))
        if documented is None:
            return [f"{where}: status not documented"]
        media = response.headers.get("content-type", "").split(";")[0].strip()
        if media not in _JSON_TYPES or not response.content:
            return []
        schema = documented.get("content", {}).get(media, {}).get("schema")
        if schema is None:
            return [f"{where}: {media} not documented"]
        body = response.json()
        found = [
            f"{where}: {error.message} at {list(error.instance_path)}"
            for error in self._validator(schema).iter_errors(body)
        ][:5]
        if media == "application/problem+json":
            found += self._problem_type_problems(where, documented, body)
        return found

    def _problem_type_problems(
        self, where: str, documented: dict[str, Any], body: dict[str, Any]
    ) -> list[str]:
        """The problem's type is one the answer lists, and has that type's members."""
        listed = documented.get("x-problem-types", [])
        if body.get("type") not in listed:
            return [f"{where}: problem type {body.get('type')} not among {listed}"]
        component = BY_SLUG[body["type"].rsplit(":", 1)[1]].component
        schema = {"$ref": f"#/components/schemas/{component}"}
        return [
            f"{where}: {error.message} at {list(error.instance_path)}"
            for error in self._validator(schema).iter_errors(body)
        ][:5]

    def _validator(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            self._validators[key] = validator_for(self.components, schema)
        return self._validators[key]


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(path)))


@functools.cache
def _documented() -> DocumentedAnswers:
    # The document the servers serve, built by the same code: fetching it would be a
    # request of its own (spending a public budget some tests count).
    return DocumentedAnswers(build_document())


def check_answer(response: requests.Response, *_: Any, **__: Any) -> None:
    """A requests response hook: fails the test on an answer the document does not describe."""
    problems = _documented().problems(response)
    assert not problems, "An answer the OpenAPI document does not describe:\n" + "\n".join(
        problems
    )
