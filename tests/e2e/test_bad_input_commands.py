"""Bad ticket commands, feed queries, ids, transitions, versions and idempotency keys
through the real server: each is refused as application/problem+json and stores nothing."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.api import Api, agent_id, ticket_body
from tests.e2e.problems import (
    KiB64,
    assert_problem,
    key,
    nothing_stored,
)

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
    "level", [0, -1, "2", 1.5, True, None], ids=lambda v: f"{type(v).__name__}-{v}"
)
def test_an_escalation_level_that_is_not_an_integer_from_1_is_422_naming_level(
    api: Api, auditor: Api, ticket, level
):
    with nothing_stored(auditor, ticket):
        assert_problem(
            api.command(ticket, "escalate", {"reason": "x", "level": level}), 422, "level"
        )


def test_an_escalation_level_written_as_a_whole_float_is_that_integer(api: Api, ticket):
    """2.0 is the JSON number 2, as the document's integer type says (issue 21)."""
    answer = api.command(ticket, "escalate", {"reason": "x", "level": 2.0})
    assert answer.status_code == 200, answer.text
    assert answer.json()["escalation"]["level"] == 2


@pytest.mark.parametrize(
    ("command", "body", "field"),
    [
        ("assign", {"agent_id": agent_id("a-1"), "team": "x"}, "team"),
        ("unassign", {"agent_id": agent_id("a-1")}, "agent_id"),
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
        assert_problem(
            api.post(f"/v1/tickets/not-a-uuid/{command}", {"agent_id": agent_id("a")}), 404
        )


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
        ([("assign", {"agent_id": agent_id("a-1")})], "close", None),
        ([("resolve", {}), ("close", None)], "messages", AGENT_MESSAGE),
        ([("resolve", {}), ("close", None)], "assign", {"agent_id": agent_id("a-2")}),
        ([("resolve", {}), ("close", None)], "reopen", None),
        ([("assign", {"agent_id": agent_id("a-1")})], "reopen", None),
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
            str(uuid.uuid4()),
            "assign",
            {"agent_id": agent_id("a-1")},
            headers={"Idempotency-Key": k},
        ),
        404,
    )
    assert (
        api.command(
            ticket, "assign", {"agent_id": agent_id("a-1")}, headers={"Idempotency-Key": k}
        ).status_code
        == 200
    )
