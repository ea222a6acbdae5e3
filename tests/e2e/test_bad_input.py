"""Bad requests through the real server: each is refused with the right status, as
application/problem+json naming what is wrong, and stores nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from tests.e2e.api import Api, ticket_body

MiB = 1024 * 1024
KiB64 = 64 * 1024
PROBLEM_MEMBERS = ("type", "title", "status", "detail")
# A body the server refuses unread (413) is not drained: gunicorn drops the connection
# afterwards, so oversize requests do not share a kept-alive connection with the next one.
ONE_SHOT = {"Connection": "close"}


# Helpers


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


# Fixtures


@pytest.fixture
def auditor(api_as) -> Api:
    return api_as("auditor")


@pytest.fixture
def ticket(api: Api) -> str:
    return api.open_ticket()["id"]


@pytest.fixture
def resolved_ticket(api: Api, ticket: str) -> str:
    assert api.command(ticket, "resolve", {"resolution": "listo"}).status_code == 200
    return ticket


@pytest.fixture
def closed_ticket(api: Api, resolved_ticket: str) -> str:
    assert api.command(resolved_ticket, "close").status_code == 200
    return resolved_ticket


# 400: not JSON


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"not json",
        b"{'subject': 'x'}",
        b'{"subject": "x",}',
        b'{"subject": }',
        b'{"subject": "x"} trailing',
        b"\x00",
    ],
    ids=[
        "unclosed",
        "bare-words",
        "single-quotes",
        "trailing-comma",
        "missing-value",
        "trailing-garbage",
        "nul-byte",
    ],
)
def test_a_body_that_is_not_json_is_400_and_stores_nothing(api: Api, auditor: Api, ticket, raw):
    with nothing_stored(auditor, ticket):
        assert_problem(post_raw(api, "/v1/tickets", raw), 400)
        assert_problem(post_raw(api, f"/v1/tickets/{ticket}/messages", raw), 400)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"subject": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
    ids=["arrays", "objects", "inside-a-field"],
)
def test_deeply_nested_json_is_400_not_500(api: Api, auditor: Api, ticket, raw):
    with nothing_stored(auditor, ticket):
        assert_problem(post_raw(api, "/v1/tickets", raw), 400)
        assert_problem(post_raw(api, f"/v1/tickets/{ticket}/tags", raw), 400)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"subject": "\xff\xfe"}',
        b'{"subject": "caf\xe9"}',
        b'{"subject": "\xc0\xaf"}',
        b'{"subject": "\xed\xa0\x80"}',
        b'{"subject": "\xe2\x82"}',
    ],
    ids=["ff-fe", "latin-1", "overlong", "encoded-surrogate", "truncated-sequence"],
)
def test_a_body_that_is_not_utf8_is_400(api: Api, auditor: Api, raw):
    with nothing_stored(auditor):
        assert_problem(post_raw(api, "/v1/tickets", raw), 400)


@pytest.mark.parametrize("field", ["subject", "description"])
def test_a_lone_surrogate_escape_in_text_is_refused_as_bad_input_not_a_500(
    api: Api, auditor: Api, field
):
    # Valid JSON syntax, but "\ud800" is not a Unicode scalar value: it cannot be
    # encoded as UTF-8, so it can be neither measured, encrypted nor stored.
    raw = json.dumps(ticket_body(**{field: "PLACEHOLDER"})).replace("PLACEHOLDER", "\\ud800")
    with nothing_stored(auditor):
        response = post_raw(api, "/v1/tickets", raw.encode())
        assert response.status_code in (400, 422), response.text
        assert_problem(response, response.status_code)


def test_a_lone_surrogate_escape_in_a_command_is_refused_as_bad_input_not_a_500(
    api: Api, auditor: Api, ticket
):
    with nothing_stored(auditor, ticket):
        response = post_raw(api, f"/v1/tickets/{ticket}/assign", b'{"agent_id": "\\ud800"}')
        assert response.status_code in (400, 422), response.text
        assert_problem(response, response.status_code)


# 413 and 415: size and content type


def test_a_body_over_one_mib_is_413_and_stores_nothing(api: Api, auditor: Api, ticket):
    raw = padded_to(ticket_body(), MiB + 1)
    with nothing_stored(auditor, ticket):
        assert_problem(post_raw(api, "/v1/tickets", raw, **ONE_SHOT), 413)
        assert_problem(post_raw(api, f"/v1/tickets/{ticket}/tags", raw, **ONE_SHOT), 413)


def test_a_description_bigger_than_one_mib_is_413(api: Api, auditor: Api):
    body = ticket_body(description="a" * MiB)
    with nothing_stored(auditor):
        assert_problem(api.post("/v1/tickets", body, headers=ONE_SHOT), 413)


def test_a_chunked_body_over_one_mib_is_413_too(api: Api, auditor: Api):
    raw = padded_to(ticket_body(), MiB + 1)
    chunks = (raw[i : i + 64 * 1024] for i in range(0, len(raw), 64 * 1024))
    with nothing_stored(auditor):
        # A generator makes requests send Transfer-Encoding: chunked, no Content-Length.
        assert_problem(post_raw(api, "/v1/tickets", chunks, **ONE_SHOT), 413)


def test_a_chunked_body_is_validated_like_any_other(api: Api, auditor: Api, resolved_ticket):
    chunks = iter([b'{"force": ', b"true}"])
    with nothing_stored(auditor, resolved_ticket):
        response = post_raw(api, f"/v1/tickets/{resolved_ticket}/close", chunks, **ONE_SHOT)
        assert_problem(response, 422, "force")


def test_a_body_of_exactly_one_mib_is_accepted(api: Api):
    response = post_raw(api, "/v1/tickets", padded_to(ticket_body(), MiB))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("text/plain", json.dumps(ticket_body())),
        ("application/x-www-form-urlencoded", "subject=x&description=y&channel=email"),
        ("multipart/form-data; boundary=xyz", "--xyz--\r\n"),
        ("application/xml", "<ticket/>"),
    ],
    ids=["text-plain", "form-urlencoded", "multipart", "xml"],
)
def test_a_body_that_is_not_declared_json_is_415(api: Api, auditor: Api, ticket, content_type, raw):
    with nothing_stored(auditor, ticket):
        assert_problem(post_raw(api, "/v1/tickets", raw, content_type), 415)
        assert_problem(
            post_raw(api, f"/v1/tickets/{ticket}/priority", '{"priority": "low"}', content_type),
            415,
        )


# 422: validation of POST /v1/tickets


@pytest.mark.parametrize("field", ["subject", "description", "requester", "channel"])
def test_a_ticket_without_a_required_field_is_422_naming_it(api: Api, auditor: Api, field):
    body = ticket_body()
    del body[field]
    with nothing_stored(auditor):
        doc = assert_problem(api.post("/v1/tickets", body), 422, field)
    assert set(doc["errors"]) == {field}


def test_a_requester_without_any_contact_is_422_naming_requester(api: Api, auditor: Api):
    with nothing_stored(auditor):
        doc = assert_problem(
            api.post("/v1/tickets", ticket_body(requester={"name": "Ana"})), 422, "requester"
        )
    assert set(doc["errors"]) == {"requester"}


def test_a_requester_without_a_name_is_422_naming_requester_name(api: Api, auditor: Api):
    with nothing_stored(auditor):
        assert_problem(
            api.post("/v1/tickets", ticket_body(requester={"email": "ana@example.com"})),
            422,
            "requester.name",
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channel", "fax"),
        ("channel", "EMAIL"),
        ("channel", ""),
        ("priority", "critical"),
        ("priority", "HIGH"),
        ("priority", ""),
    ],
)
def test_an_unknown_channel_or_priority_is_422(api: Api, auditor: Api, field, value):
    with nothing_stored(auditor):
        assert_problem(api.post("/v1/tickets", ticket_body(**{field: value})), 422, field)


@pytest.mark.parametrize(
    "subject",
    ["", " ", "   \t\n ", "\u00a0\u3000", "a" * 201, "ñ" * 201],
    ids=["empty", "one-space", "whitespace-only", "unicode-spaces", "201-ascii", "201-non-ascii"],
)
def test_a_subject_that_is_blank_or_over_200_characters_is_422(api: Api, auditor: Api, subject):
    with nothing_stored(auditor):
        assert_problem(api.post("/v1/tickets", ticket_body(subject=subject)), 422, "subject")


@pytest.mark.parametrize("subject", ["x", "a" * 200, "ñ" * 200], ids=["1", "200", "200-non-ascii"])
def test_a_subject_of_up_to_200_characters_is_accepted(api: Api, subject):
    assert api.open_ticket(subject=subject)["subject"] == subject


@pytest.mark.parametrize(
    "description",
    [
        "a" * (KiB64 + 1),
        "é" * (KiB64 // 2 + 1),
        "€" * (KiB64 // 3 + 1),
        "😀" * (KiB64 // 4) + "a",
        "",
        "  \n ",
    ],
    ids=["ascii-64k+1", "2-byte-chars", "3-byte-chars", "4-byte-chars-plus-1", "empty", "blank"],
)
def test_a_description_over_64_kib_of_utf8_or_blank_is_422(api: Api, auditor: Api, description):
    with nothing_stored(auditor):
        assert_problem(
            api.post("/v1/tickets", ticket_body(description=description)), 422, "description"
        )


@pytest.mark.parametrize(
    "description",
    ["a" * KiB64, "é" * (KiB64 // 2), "€" * (KiB64 // 3) + "a", "😀" * (KiB64 // 4)],
    ids=["ascii", "2-byte-chars", "3-byte-chars", "4-byte-chars"],
)
def test_a_description_of_exactly_64_kib_of_utf8_is_accepted(api: Api, description):
    assert len(description.encode()) == KiB64
    tid = api.open_ticket(description=description)["id"]
    assert api.get(f"/v1/tickets/{tid}").json()["description"] == description


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"nickname": "Ana"}, "nickname"),
        ({"Subject": "case matters"}, "Subject"),
        (
            {"requester": {"name": "Ana", "email": "ana@example.com", "nickname": "A"}},
            "requester.nickname",
        ),
        (
            {"requester": {"name": "Ana", "email": "ana@example.com", "address": {"city": "X"}}},
            "requester.address",
        ),
    ],
    ids=["top-level", "wrong-case", "inside-requester", "object-inside-requester"],
)
def test_an_unknown_field_is_422_naming_it(api: Api, auditor: Api, overrides, field):
    with nothing_stored(auditor):
        doc = assert_problem(api.post("/v1/tickets", ticket_body(**overrides)), 422, field)
    assert set(doc["errors"]) == {field}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", 42),
        ("subject", None),
        ("subject", ["a"]),
        ("description", 1.5),
        ("tags", "wifi"),
        ("tags", {"wifi": True}),
        ("tags", [1]),
        ("requester", "Ana"),
        ("channel", 1),
        ("priority", None),
        ("language", 5),
    ],
    ids=[
        "subject-number",
        "subject-null",
        "subject-list",
        "description-float",
        "tags-string",
        "tags-object",
        "tags-number-item",
        "requester-string",
        "channel-number",
        "priority-null",
        "language-number",
    ],
)
def test_a_field_of_the_wrong_type_is_422_naming_it(api: Api, auditor: Api, field, value):
    with nothing_stored(auditor):
        doc = assert_problem(api.post("/v1/tickets", ticket_body(**{field: value})), 422)
    assert any(name == field or name.startswith(f"{field}.") for name in doc["errors"]), doc


@pytest.mark.parametrize(
    "body", [[ticket_body()], "a ticket", 42, None], ids=["list", "string", "number", "null"]
)
def test_a_json_body_that_is_not_an_object_is_422(api: Api, auditor: Api, body):
    raw = json.dumps(body).encode()
    with nothing_stored(auditor):
        assert_problem(post_raw(api, "/v1/tickets", raw), 422)


@pytest.mark.parametrize(
    "language",
    ["english", "pt_BR", "e", "12", "en-", "-en", "en--US", "en US", "", "português"],
)
def test_a_language_that_is_not_bcp47_is_422(api: Api, auditor: Api, language):
    with nothing_stored(auditor):
        assert_problem(api.post("/v1/tickets", ticket_body(language=language)), 422, "language")


@pytest.mark.parametrize("language", ["pt", "pt-BR", "es-419", "zh-Hant-TW", "de-CH-1996"])
def test_a_bcp47_language_is_accepted(api: Api, language):
    assert api.open_ticket(language=language)["language"] == language


@pytest.mark.parametrize(
    "tags",
    [["ok", ""], ["has space"], ["-leading-dash"], ["a" * 51], [f"t{i}" for i in range(21)]],
    ids=["empty-tag", "space", "leading-dash", "51-chars", "21-tags"],
)
def test_invalid_tags_are_422_naming_tags(api: Api, auditor: Api, tags):
    with nothing_stored(auditor):
        doc = assert_problem(api.post("/v1/tickets", ticket_body(tags=tags)), 422)
    assert any(name == "tags" or name.startswith("tags.") for name in doc["errors"]), doc


@pytest.mark.parametrize(
    "requester",
    [
        {"name": "Ana", "email": "not-an-email"},
        {"name": "Ana", "phone": "call me"},
        {"name": "Ana", "email": ""},
        {"name": "Ana", "external_id": "   "},
    ],
    ids=["bad-email", "bad-phone", "empty-email", "blank-external-id"],
)
def test_an_invalid_contact_is_422_naming_the_requester(api: Api, auditor: Api, requester):
    with nothing_stored(auditor):
        doc = assert_problem(api.post("/v1/tickets", ticket_body(requester=requester)), 422)
    assert all(name.startswith("requester") for name in doc["errors"]), doc


# 422: validation of ticket commands


@pytest.mark.parametrize("status", ["closed", "resolved", "new", "done", "OPEN", ""])
def test_an_unknown_or_unsettable_status_is_422_naming_status(
    api: Api, auditor: Api, ticket, status
):
    with nothing_stored(auditor, ticket):
        assert_problem(api.command(ticket, "status", {"status": status}), 422, "status")


@pytest.mark.parametrize(
    ("command", "body", "field"),
    [
        ("priority", {"priority": "critical"}, "priority"),
        ("priority", {}, "priority"),
        ("messages", {"body": "hi", "author_type": "bot", "visibility": "public"}, "author_type"),
        ("messages", {"body": "hi", "author_type": "agent", "visibility": "secret"}, "visibility"),
        (
            "messages",
            {"body": "hi", "author_type": "agent", "visibility": "public", "channel": "fax"},
            "channel",
        ),
        ("messages", {"body": " ", "author_type": "agent", "visibility": "public"}, "body"),
        (
            "messages",
            {"body": "a" * (KiB64 + 1), "author_type": "agent", "visibility": "public"},
            "body",
        ),
        ("assign", {}, "agent_id"),
        ("assign", {"agent_id": ""}, "agent_id"),
        ("assign", {"agent_id": 7}, "agent_id"),
        ("category", {}, "category"),
        ("category", {"category": "  "}, "category"),
        ("escalate", {}, "reason"),
        ("escalate", {"reason": "x", "level": 11}, "level"),
        ("resolve", {"resolution": ""}, "resolution"),
        ("reopen", {"reason": "   "}, "reason"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_an_invalid_command_body_is_422_naming_the_field(
    api: Api, auditor: Api, ticket, command, body, field
):
    with nothing_stored(auditor, ticket):
        assert_problem(api.command(ticket, command, body), 422, field)


def test_a_customer_writing_an_internal_note_is_422_naming_visibility(
    api: Api, auditor: Api, ticket
):
    note = {"body": "nota interna", "author_type": "customer", "visibility": "internal"}
    with nothing_stored(auditor, ticket):
        doc = assert_problem(api.command(ticket, "messages", note), 422, "visibility")
    assert set(doc["errors"]) == {"visibility"}


def test_an_agent_may_write_an_internal_note(api: Api, ticket):
    note = {"body": "nota interna", "author_type": "agent", "visibility": "internal"}
    assert api.command(ticket, "messages", note).status_code == 200


@pytest.mark.parametrize(
    "body",
    [None, {}, {"add": [], "remove": []}, {"add": []}],
    ids=["no-body", "empty-object", "both-empty", "add-empty"],
)
def test_tags_with_neither_add_nor_remove_is_422(api: Api, auditor: Api, ticket, body):
    with nothing_stored(auditor, ticket):
        assert_problem(api.command(ticket, "tags", body), 422)


@pytest.mark.parametrize(
    "level", [0, -1, "2", 2.0, 1.5, True, None], ids=lambda v: f"{type(v).__name__}-{v}"
)
def test_an_escalation_level_that_is_not_an_integer_from_1_is_422_naming_level(
    api: Api, auditor: Api, ticket, level
):
    with nothing_stored(auditor, ticket):
        assert_problem(
            api.command(ticket, "escalate", {"reason": "x", "level": level}), 422, "level"
        )


@pytest.mark.parametrize(
    ("command", "body", "field"),
    [
        ("assign", {"agent_id": "a-1", "team": "x"}, "team"),
        ("unassign", {"agent_id": "a-1"}, "agent_id"),
        ("close", {"force": True}, "force"),
        ("status", {"status": "open", "reason": "x"}, "reason"),
        ("tags", {"add": ["x"], "replace": ["y"]}, "replace"),
    ],
    ids=["assign", "unassign", "close", "status", "tags"],
)
def test_an_unknown_field_in_a_command_is_422_naming_it(
    api: Api, auditor: Api, ticket, command, body, field
):
    with nothing_stored(auditor, ticket):
        assert_problem(api.command(ticket, command, body), 422, field)


# 422: the event feed's query


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 5000}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"after": -1}, "after"),
        ({"after": "abc"}, "after"),
        ({"after": "1.5"}, "after"),
    ],
    ids=[
        "limit-0",
        "limit-5000",
        "limit-negative",
        "limit-word",
        "after-negative",
        "after-abc",
        "after-decimal",
    ],
)
def test_an_event_feed_query_out_of_range_is_422_naming_the_parameter(auditor: Api, params, field):
    assert_problem(auditor.get("/v1/events", params=params), 422, field)


@pytest.mark.parametrize("limit", [1, 1000])
def test_the_event_feed_accepts_limits_from_1_to_1000(auditor: Api, limit):
    assert auditor.get("/v1/events", params={"limit": limit}).status_code == 200


# 404


def test_an_unknown_ticket_is_404_on_every_route(api: Api, auditor: Api):
    missing = str(uuid.uuid4())
    with nothing_stored(auditor):
        assert_problem(api.get(f"/v1/tickets/{missing}"), 404)
        assert_problem(api.get(f"/v1/tickets/{missing}/history"), 404)
        assert_problem(api.command(missing, "priority", {"priority": "low"}), 404)
        assert_problem(api.command(missing, "close"), 404)


@pytest.mark.parametrize(
    "path",
    ["/v1/tickets/not-a-uuid", "/v1/tickets/123", "/v1/tickets/123/history"],
)
def test_a_malformed_ticket_id_is_404(api: Api, path):
    assert_problem(api.get(path), 404)


@pytest.mark.parametrize("command", ["assign", "close", "messages"])
def test_a_command_on_a_malformed_ticket_id_is_404_and_stores_nothing(
    api: Api, auditor: Api, command
):
    with nothing_stored(auditor):
        assert_problem(api.post(f"/v1/tickets/not-a-uuid/{command}", {"agent_id": "a"}), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nope"),
        ("GET", "/v2/tickets"),
        ("GET", "/"),
        ("POST", "/v1/ticket"),
        ("POST", "/v1/tickets/{tid}/frobnicate"),
        ("GET", "/v1/tickets/{tid}/history/1"),
    ],
)
def test_an_unknown_route_is_404_problem_json(api: Api, auditor: Api, ticket, method, path):
    with nothing_stored(auditor, ticket):
        response = api.session.request(
            method, api.base_url + path.format(tid=ticket), json={}, timeout=30
        )
        assert_problem(response, 404)


def test_an_unknown_route_is_404_even_without_a_token(api_as):
    assert_problem(api_as(None).get("/v1/nope"), 404)


# 409: transitions the ticket's state does not allow

AGENT_MESSAGE = {"body": "hola", "author_type": "agent", "visibility": "public"}


@pytest.mark.parametrize(
    ("setup", "command", "body"),
    [
        ([], "close", None),
        ([("assign", {"agent_id": "a-1"})], "close", None),
        ([("resolve", {}), ("close", None)], "messages", AGENT_MESSAGE),
        ([("resolve", {}), ("close", None)], "assign", {"agent_id": "a-2"}),
        ([("resolve", {}), ("close", None)], "reopen", None),
        ([("assign", {"agent_id": "a-1"})], "reopen", None),
        ([("resolve", {})], "resolve", None),
        ([("resolve", {})], "escalate", {"reason": "x"}),
        ([("resolve", {})], "status", {"status": "pending"}),
        ([("escalate", {"reason": "x", "level": 3})], "escalate", {"reason": "y", "level": 2}),
    ],
    ids=[
        "close-new",
        "close-open",
        "message-closed",
        "assign-closed",
        "reopen-closed",
        "reopen-open",
        "resolve-resolved",
        "escalate-resolved",
        "pending-resolved",
        "escalate-to-a-lower-level",
    ],
)
def test_a_transition_the_state_does_not_allow_is_409_and_stores_nothing(
    api: Api, auditor: Api, ticket, setup, command, body
):
    for name, step in setup:
        assert api.command(ticket, name, step).status_code == 200
    with nothing_stored(auditor, ticket):
        assert_problem(api.command(ticket, command, body), 409)


# 412: stale If-Match


@pytest.mark.parametrize("if_match", ['"7"', '"0"', '"1"', 'W/"2"', '"abc"'])
def test_a_stale_or_unusable_if_match_is_412_and_stores_nothing(
    api: Api, auditor: Api, ticket, if_match
):
    assert api.command(ticket, "priority", {"priority": "high"}).headers["ETag"] == '"2"'
    with nothing_stored(auditor, ticket):
        assert_problem(
            api.command(ticket, "priority", {"priority": "low"}, headers={"If-Match": if_match}),
            412,
        )


# Idempotency-Key


def test_the_same_idempotency_key_with_a_different_body_is_422_naming_the_header(
    api: Api, auditor: Api
):
    k = key()
    first = api.post("/v1/tickets", ticket_body(subject="primero"), headers={"Idempotency-Key": k})
    assert first.status_code == 201
    with nothing_stored(auditor, first.json()["id"]):
        assert_problem(
            api.post("/v1/tickets", ticket_body(subject="segundo"), headers={"Idempotency-Key": k}),
            422,
            "Idempotency-Key",
        )
    again = api.post("/v1/tickets", ticket_body(subject="primero"), headers={"Idempotency-Key": k})
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]


def test_the_same_idempotency_key_on_another_route_is_422_naming_the_header(
    api: Api, auditor: Api, ticket
):
    k = key()
    assert (
        api.command(
            ticket, "priority", {"priority": "high"}, headers={"Idempotency-Key": k}
        ).status_code
        == 200
    )
    with nothing_stored(auditor, ticket):
        assert_problem(
            api.command(ticket, "category", {"category": "high"}, headers={"Idempotency-Key": k}),
            422,
            "Idempotency-Key",
        )


@pytest.mark.parametrize("value", ["", "k" * 256], ids=["empty", "256-chars"])
def test_an_unusable_idempotency_key_is_422_naming_the_header(api: Api, auditor: Api, value):
    with nothing_stored(auditor):
        assert_problem(
            api.post("/v1/tickets", ticket_body(), headers={"Idempotency-Key": value}),
            422,
            "Idempotency-Key",
        )


def test_a_request_refused_by_validation_does_not_use_up_its_idempotency_key(api: Api):
    k = key()
    invalid = api.post("/v1/tickets", ticket_body(channel="fax"), headers={"Idempotency-Key": k})
    assert_problem(invalid, 422, "channel")
    fixed = api.post("/v1/tickets", ticket_body(), headers={"Idempotency-Key": k})
    assert fixed.status_code == 201, fixed.text
    assert "Idempotent-Replayed" not in fixed.headers
    replay = api.post("/v1/tickets", ticket_body(), headers={"Idempotency-Key": k})
    assert replay.status_code == 201 and replay.json()["id"] == fixed.json()["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"


def test_a_request_refused_as_a_conflict_does_not_use_up_its_idempotency_key(api: Api, ticket):
    k = key()
    assert_problem(api.command(ticket, "close", headers={"Idempotency-Key": k}), 409)
    assert api.command(ticket, "resolve", {"resolution": "listo"}).status_code == 200
    # The very same request, once the state allows it, runs instead of replaying the 409.
    closed = api.command(ticket, "close", headers={"Idempotency-Key": k})
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert "Idempotent-Replayed" not in closed.headers
    assert api.history_types(ticket) == ["opened", "resolved", "closed"]


def test_a_corrected_request_after_a_conflict_may_reuse_the_idempotency_key(
    api: Api, closed_ticket
):
    ticket = api.open_ticket()["id"]
    k = key()
    assert_problem(
        api.command(closed_ticket, "messages", AGENT_MESSAGE, headers={"Idempotency-Key": k}), 409
    )
    fixed = api.command(ticket, "messages", AGENT_MESSAGE, headers={"Idempotency-Key": k})
    assert fixed.status_code == 200, fixed.text
    assert api.history_types(ticket)[-1] == "message_added"


def test_a_request_refused_as_stale_does_not_use_up_its_idempotency_key(api: Api, ticket):
    k = key()
    body = {"priority": "urgent"}
    stale = api.command(ticket, "priority", body, headers={"Idempotency-Key": k, "If-Match": '"9"'})
    assert_problem(stale, 412)
    fresh = api.command(ticket, "priority", body, headers={"Idempotency-Key": k, "If-Match": '"1"'})
    assert fresh.status_code == 200 and fresh.json()["priority"] == "urgent"


def test_a_request_for_an_unknown_ticket_does_not_use_up_its_idempotency_key(api: Api, ticket):
    k = key()
    assert_problem(
        api.command(
            str(uuid.uuid4()), "assign", {"agent_id": "a-1"}, headers={"Idempotency-Key": k}
        ),
        404,
    )
    assert (
        api.command(
            ticket, "assign", {"agent_id": "a-1"}, headers={"Idempotency-Key": k}
        ).status_code
        == 200
    )
