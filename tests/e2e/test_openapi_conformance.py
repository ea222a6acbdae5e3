"""schemathesis against a live server: for every documented operation, generated
requests (valid and invalid) never get a 5xx, and every answer has a documented status,
content type, headers and body.

The server is this module's own (a fresh database per backend), because generated
requests replace the SLA policies and register agents the other e2e tests do not expect.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config._checks import (
    NegativeDataRejectionConfig,
    PositiveDataAcceptanceConfig,
)
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from interface.http.operations import build_document
from tests.catalogue_check import assert_feed_matches_catalogue
from tests.databases import BACKENDS
from tests.e2e.server import Server, running_server

EXAMPLES_PER_OPERATION = 15
SCHEMA = schemathesis.openapi.from_dict(build_document())
# Raw emails go as they are, like any text.
schemathesis.serializer.alias("message/rfc822", "text/plain")


def can_be_invalid(operation: dict) -> bool:
    """Whether a request to it can be malformed: a body, a query, or a typed path
    parameter (a free-text one, like a survey token, takes any string)."""
    return "requestBody" in operation or any(
        p["in"] == "query" or set(p["schema"]) - {"type"} for p in operation["parameters"]
    )


OPERATIONS = [
    pytest.param(path, method.upper(), mode, id=f"{method.upper()} {path} {mode.value}")
    for path, methods in SCHEMA.raw_schema["paths"].items()
    for method, operation in methods.items()
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE or can_be_invalid(operation)
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    # The schema and the server agree on what is well formed: generated valid requests
    # are not refused as malformed, generated invalid ones are refused.
    positive_data_acceptance,
    negative_data_rejection,
]
# Besides the library's defaults (2xx, 401, 403, 404, 409, 429, 5xx): a well-formed
# request can still meet a state that refuses it, as a 409 does: a survey closed (410),
# an If-Match the resource has moved on from (412).
SCHEMA.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
    expected_statuses=["2xx", "401", "403", "404", "409", "410", "412", "429", "5xx"]
)
# Besides the library's defaults: a request refused for its size (413 body, 414 URI, from
# gunicorn before the app) is refused.
SCHEMA.config.checks.negative_data_rejection = NegativeDataRejectionConfig(
    expected_statuses=[
        "400", "401", "403", "404", "405", "406", "409", "413", "414", "415", "422", "428",
        "429", "5xx",
    ]
)  # fmt: skip


@pytest.fixture(scope="module")
def agents() -> None:
    """This module never touches the shared e2e server, so it need not seed its agents."""


@pytest.fixture(scope="module", params=BACKENDS)
def fuzzed_server(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"openapi-{request.param}")
    with running_server(request.param, directory) as running:
        yield running
        # What the generated requests recorded is as the event catalogue says.
        auditor = running.create_token("auditor", "catalogue-check")
        assert_feed_matches_catalogue(running.base_url, auditor)


@pytest.fixture(scope="module")
def admin_session(fuzzed_server: Server) -> requests.Session:
    session = requests.Session()
    token = fuzzed_server.create_token("admin", "schemathesis")
    session.headers["Authorization"] = f"Bearer {token}"
    return session


# Rules JSON Schema cannot state, which a generated valid request would break by chance:
# after_position must not be beyond the log's head and as_of not in the future (state),
# from must come before to and a report's window span at most a year (across fields),
# an export takes a ticket or a range, and a cursor is one the server wrote (opaque).
UNSTATABLE_QUERY = ("after_position", "as_of", "from", "to", "cursor")
# Bodies valid only against what is stored, across items or in a format of their own: a
# policy names an existing calendar, a calendar's intervals are ordered and do not
# overlap, an email is RFC 5322. Their valid requests are not generated; their invalid
# ones still must be refused.
UNSTATABLE_BODIES = {
    ("/v1/sla/policies", "PUT"),
    ("/v1/calendars/{name}", "PUT"),
    ("/v1/intake/email", "POST"),
    # Whether a conversation alone is enough depends on the channel, a path parameter.
    ("/v1/intake/{channel}", "POST"),
    # Whether a webhook URL's host resolves, and to a public address (DNS); whether the
    # event types exist (the catalogue, which a pattern would only repeat); whether the
    # same subscription exists (state).
    ("/v1/webhooks", "POST"),
}


def within_unstatable_rules(case: schemathesis.Case) -> schemathesis.Case:
    if case.query:
        case.query = {k: v for k, v in case.query.items() if k not in UNSTATABLE_QUERY}
    if isinstance(case.body, dict):
        case.body.pop("expires_at", None)  # a token's must be in the future (time)
    if case.headers and "Idempotency-Key" in case.headers:
        # A key is the request's own: one reused with another body is refused (state).
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    return case


def checks_for(path: str, method: str, mode: GenerationMode) -> list:
    if mode is GenerationMode.POSITIVE and (path, method) in UNSTATABLE_BODIES:
        return [c for c in CHECKS if c is not positive_data_acceptance]
    return CHECKS


@pytest.mark.parametrize(("path", "method", "mode"), OPERATIONS)
def test_generated_requests_get_documented_answers_and_no_server_error(
    fuzzed_server: Server,
    admin_session: requests.Session,
    path: str,
    method: str,
    mode: GenerationMode,
) -> None:
    operation = SCHEMA[path][method]
    strategy = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:
        strategy = strategy.map(within_unstatable_rules)
    checks = checks_for(path, method, mode)

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,  # the same requests on every run: a failure reproduces
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def answers_as_documented(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=fuzzed_server.base_url, session=admin_session, checks=checks, timeout=30
        )

    answers_as_documented()


def _filled(path: str, operation: dict) -> str:
    """The path with each parameter given a well-formed value (a resource that may
    not exist: the request is refused before it is looked up, or is a 404)."""
    for parameter in operation["parameters"]:
        if parameter["in"] == "path":
            schema = parameter["schema"]
            value = schema["enum"][0] if "enum" in schema else str(uuid.uuid4())
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


JSON_BODIES = [
    pytest.param(_filled(path, operation), method.upper(), id=f"{method.upper()} {path}")
    for path, methods in SCHEMA.raw_schema["paths"].items()
    for method, operation in methods.items()
    if "application/json" in operation.get("requestBody", {}).get("content", {})
]
HOSTILE = {
    "not UTF-8": ({}, b'{"subject": "\xff\xfe\xc3("}'),
    "nested 100,000 deep": ({}, b"[" * 100_000 + b"]" * 100_000),
    "an absurd charset": ({"Content-Type": "application/json; charset=klingon"}, b"{]"),
    "an absurd Idempotency-Key": ({"Idempotency-Key": "k" * 4000}, b"{}"),
    "an absurd If-Match": ({"If-Match": 'W/"x", ' * 500}, b"{}"),
}


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize(("path", "method"), JSON_BODIES)
def test_hostile_bodies_and_headers_get_a_client_error_not_a_server_error(
    fuzzed_server: Server, admin_session: requests.Session, path: str, method: str, hostile: str
) -> None:
    headers, body = HOSTILE[hostile]
    response = admin_session.request(
        method,
        fuzzed_server.base_url + path,
        data=body,
        headers={"Content-Type": "application/json", **headers},
        timeout=30,
    )
    assert 400 <= response.status_code < 500, response.text
