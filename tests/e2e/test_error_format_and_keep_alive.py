"""One error format through a real gunicorn server, and kept-alive connections that
survive a refused body: what a pooled client (requests.Session) sees."""

from __future__ import annotations

import socket

import requests

from tests.e2e.api import Api, ticket_body
from tests.e2e.problems import MiB, assert_problem


def test_a_kept_alive_connection_serves_the_next_request_after_a_413(api: Api):
    session = api.session  # one pooled keep-alive connection
    refused = session.post(
        f"{api.base_url}/v1/tickets",
        data=b"{" + b" " * (2 * MiB) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert_problem(refused, 413)
    # Either the server drained the body and keeps the connection, or it says it closes.
    assert refused.headers.get("Connection", "keep-alive").lower() in ("close", "keep-alive")
    after = session.post(f"{api.base_url}/v1/tickets", json=ticket_body())
    assert after.status_code == 201, after.text


def test_an_unknown_route_is_a_problem_with_an_atende_type(api: Api):
    doc = assert_problem(api.session.get(f"{api.base_url}/v1/nowhere"), 404)
    assert doc["type"] == "urn:atende:problem:not-found"


def test_a_method_the_route_does_not_have_is_a_problem_with_an_atende_type(api: Api):
    doc = assert_problem(api.session.delete(f"{api.base_url}/v1/queue"), 405)
    assert doc["type"] == "urn:atende:problem:method-not-allowed"


def test_a_body_that_is_not_json_is_a_problem_with_an_atende_type(api: Api):
    response = api.session.post(
        f"{api.base_url}/v1/tickets", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert assert_problem(response, 400)["type"] == "urn:atende:problem:invalid-json"


def test_an_unsupported_content_type_is_a_problem_with_an_atende_type(api: Api):
    response = api.session.post(
        f"{api.base_url}/v1/tickets", data=b"a=b", headers={"Content-Type": "text/plain"}
    )
    assert assert_problem(response, 415)["type"] == "urn:atende:problem:unsupported-media-type"


def test_json_in_upper_case_with_parameters_is_json(api: Api):
    response = api.session.post(
        f"{api.base_url}/v1/tickets",
        data=requests.models.complexjson.dumps(ticket_body()).encode(),
        headers={"Content-Type": "APPLICATION/JSON; Charset=UTF-8"},
    )
    assert response.status_code == 201, response.text


def test_a_malformed_request_line_is_answered_as_a_problem(server):
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(
            b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n"
        )
        answer = conn.recv(65536).decode("latin-1")
    head, _, body = answer.partition("\r\n\r\n")
    assert "application/problem+json" in head.lower(), head
    assert '"type": "urn:atende:problem:' in body or '"type":"urn:atende:problem:' in body
