"""Webhooks through the real server (issue 22, items 5-7): subscriptions made, read,
rotated and deleted over HTTP; events delivered by the projector to real receivers on
local ports, signed per Standard Webhooks, in order per ticket, retried with the same
webhook-id, and a subscription disabled (saying why) once its receiver failed for the
whole retry window. Bad input is refused with a problem naming the field, storing nothing.

The delivering server allows private addresses (the receivers are on 127.0.0.1) and
retries quickly; the session's shared server keeps the default and refuses them."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.api import Api
from tests.e2e.drills import eventually, feed, projector_pids
from tests.e2e.problems import assert_problem, head
from tests.e2e.server import Server, running_server
from tests.webhook_receiver import receiving

RETRY_WINDOW_SECONDS = 4
DELIVERING = {
    "ATENDE_WEBHOOK_ALLOW_PRIVATE": "true",
    "ATENDE_WEBHOOK_FIRST_RETRY": "1s",
    "ATENDE_WEBHOOK_RETRY_FOR": f"{RETRY_WINDOW_SECONDS}s",
}


@pytest.fixture(scope="module")
def delivering(server: Server, tmp_path_factory) -> Iterator[Server]:
    """A server of its own that delivers to local receivers, on the session's backend."""
    backend = "sqlite" if server.database_url.startswith("sqlite") else "postgres"
    directory = tmp_path_factory.mktemp(f"webhooks-{backend}")
    with running_server(backend, directory, workers=1, env=DELIVERING) as running:
        yield running


@pytest.fixture(scope="module")
def admin(delivering: Server) -> Api:
    return Api(delivering.base_url, delivering.create_token("admin", "webhooks-admin"))


@pytest.fixture(scope="module")
def integrator(delivering: Server) -> Api:
    return Api(delivering.base_url, delivering.create_token("integrator", "webhooks-crm"))


def _subscribe(admin: Api, url: str, events: list[str]) -> dict[str, Any]:
    made = admin.post("/v1/webhooks", {"url": url, "events": events, "description": "test"})
    assert made.status_code == 201, made.text
    return made.json()


def _deliveries(admin: Api, webhook: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    found = admin.get(f"/v1/webhooks/{webhook['id']}/deliveries", params=params)
    assert found.status_code == 200, found.text
    return found.json()["items"]


def _reply(integrator: Api, ticket_id: str, body: str) -> None:
    answer = integrator.command(
        ticket_id, "messages", {"body": body, "author_type": "customer", "visibility": "public"}
    )
    assert answer.status_code == 200, answer.text


def _fed(reader: Api, positions: set[int]) -> dict[int, dict[str, Any]]:
    return {e["position"]: e for e in feed(reader) if e["position"] in positions}


def test_a_subscription_shows_its_secret_once_and_the_log_never(admin: Api):
    with receiving() as receiver:
        made = _subscribe(admin, receiver.url, ["ticket.opened"])
        assert made["secret"].startswith("whsec_")
        assert made["status"] == "active"

        read = admin.get(f"/v1/webhooks/{made['id']}")
        assert read.status_code == 200, read.text
        assert "secret" not in read.json()
        listed = admin.get("/v1/webhooks").json()["items"]
        assert made["id"] in [w["id"] for w in listed]
        assert all("secret" not in w for w in listed)

        recorded = [
            e for e in feed(admin)
            if e["type"] == "subscribed" and e["data"]["subscription_id"] == made["id"]
        ]  # fmt: skip
        assert len(recorded) == 1
        assert recorded[0]["aggregate_type"] == "webhook_registry"
        assert made["secret"] not in str(recorded[0])
        assert "sealed_secret" not in recorded[0]["data"]
        assert admin.delete(f"/v1/webhooks/{made['id']}").status_code == 204


def test_subscribed_events_arrive_signed_in_order_as_the_feed_shows_them(
    admin: Api, integrator: Api
):
    with receiving() as receiver:
        webhook = _subscribe(admin, receiver.url, ["ticket.opened", "message_added"])
        opened = integrator.open_ticket()
        for text in ("primero", "segundo"):
            _reply(integrator, opened["id"], text)
        eventually(lambda: len(receiver.received) >= 3, "three deliveries")
        time.sleep(0.5)  # nothing more should come

        mine = [r for r in receiver.received if r.event.get("ticket_id") == opened["id"]]
        assert [r.event["type"] for r in mine] == ["opened", "message_added", "message_added"]
        positions = [r.event["position"] for r in mine]
        assert positions == sorted(positions)
        for request in mine:
            assert request.verifies_with(webhook["secret"])
            assert request.headers["content-type"] == "application/json"
        fed = _fed(admin, set(positions))
        assert [r.event for r in mine] == [fed[p] for p in positions]

        deliveries = {d["id"]: d for d in _deliveries(admin, webhook)}
        for request in mine:
            delivery = deliveries[request.headers["webhook-id"]]
            assert delivery["status"] == "delivered"
            assert delivery["attempts"] == 1
            assert delivery["last_status_code"] == 200
            assert delivery["last_latency_ms"] >= 0
        admin.delete(f"/v1/webhooks/{webhook['id']}")


def test_a_failed_delivery_is_retried_with_the_same_webhook_id_and_holds_back_its_ticket(
    admin: Api, integrator: Api
):
    with receiving(answers=[500]) as receiver:
        webhook = _subscribe(admin, receiver.url, ["ticket.opened", "message_added"])
        opened = integrator.open_ticket()
        _reply(integrator, opened["id"], "¿hay novedades?")

        eventually(lambda: len(receiver.received) >= 3, "the opening twice and the reply")
        first, again, reply = receiver.received[:3]
        assert first.headers["webhook-id"] == again.headers["webhook-id"]
        assert first.event == again.event
        assert reply.event["type"] == "message_added"  # after the opening got through

        delivery = admin.get(
            f"/v1/webhooks/{webhook['id']}/deliveries/{first.headers['webhook-id']}"
        ).json()
        assert delivery["status"] == "delivered"
        assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 200]
        assert delivery["attempt_log"][0]["error"]
        admin.delete(f"/v1/webhooks/{webhook['id']}")


def test_a_receiver_failing_for_the_whole_window_gets_its_subscription_disabled_saying_why(
    admin: Api, integrator: Api
):
    with receiving(answers=[503] * 1000) as receiver:
        webhook = _subscribe(admin, receiver.url, ["ticket.opened"])
        integrator.open_ticket()

        def disabled() -> dict[str, Any] | None:
            read = admin.get(f"/v1/webhooks/{webhook['id']}").json()
            return read if read["status"] == "disabled" else None

        found = eventually(disabled, "the subscription disabled", seconds=RETRY_WINDOW_SECONDS * 5)
        assert "503" in found["disabled_reason"]
        assert found["disabled_at"] is not None
        (failed,) = _deliveries(admin, webhook, status="failed")
        assert failed["attempts"] >= 2

        # Fixed and enabled again: a new event goes out; the failed one on a retry.
        receiver.answers.clear()
        enabled = admin.post(f"/v1/webhooks/{webhook['id']}/enable", {})
        assert enabled.status_code == 200 and enabled.json()["status"] == "active"
        retried = admin.post(f"/v1/webhooks/{webhook['id']}/deliveries/{failed['id']}/retry", {})
        assert retried.status_code == 202, retried.text
        eventually(lambda: _deliveries(admin, webhook, status="delivered"), "the retried delivery")
        admin.delete(f"/v1/webhooks/{webhook['id']}")


def test_a_slow_receiver_never_delays_another(admin: Api, integrator: Api):
    with receiving(delay_seconds=5) as slow, receiving() as fast:
        slow_hook = _subscribe(admin, slow.url, ["ticket.opened"])
        fast_hook = _subscribe(admin, fast.url, ["ticket.opened"])
        opened = [integrator.open_ticket()["id"] for _ in range(3)]

        def fast_has_all() -> bool:
            return {r.event["ticket_id"] for r in fast.received} >= set(opened)

        eventually(fast_has_all, "every opening at the fast receiver")
        assert _deliveries(admin, slow_hook, status="pending")  # still waiting on the slow one
        for hook in (slow_hook, fast_hook):
            admin.delete(f"/v1/webhooks/{hook['id']}")


def test_after_a_rotation_deliveries_carry_both_signatures_and_a_deletion_stops_them(
    admin: Api, integrator: Api
):
    with receiving() as receiver:
        webhook = _subscribe(admin, receiver.url, ["ticket.opened"])
        rotated = admin.post(f"/v1/webhooks/{webhook['id']}/rotate-secret", {})
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret != webhook["secret"]

        integrator.open_ticket()
        eventually(lambda: receiver.received, "a delivery")
        request = receiver.received[0]
        assert request.verifies_with(new_secret) and request.verifies_with(webhook["secret"])
        assert len(request.headers["webhook-signature"].split()) == 2

        assert admin.delete(f"/v1/webhooks/{webhook['id']}").status_code == 204
        assert admin.get(f"/v1/webhooks/{webhook['id']}").status_code == 404
        position = integrator.open_ticket()["position"]
        # The projector has passed the new ticket's opening: nothing was delivered for it.
        eventually(
            lambda: admin.get("/v1/queue", params={"after_position": position}).status_code == 200,
            "the projector past the opening",
        )
        time.sleep(1)
        assert len(receiver.received) == 1


def test_a_replay_delivers_again_every_event_after_a_position(admin: Api, integrator: Api):
    with receiving() as receiver:
        before = head(admin)
        opened = integrator.open_ticket()
        webhook = _subscribe(admin, receiver.url, ["ticket.opened"])  # after the opening
        replayed = admin.post(f"/v1/webhooks/{webhook['id']}/replay", {"after_position": before})
        assert replayed.status_code == 202, replayed.text
        assert replayed.json()["queued"] == 1
        eventually(lambda: receiver.received, "the replayed opening")
        assert receiver.received[0].event["ticket_id"] == opened["id"]
        admin.delete(f"/v1/webhooks/{webhook['id']}")


# Bad input, on the session's server (which refuses private addresses).

BAD_SUBSCRIPTIONS = {
    "not http": ({"url": "ftp://example.com/hook", "events": ["*"]}, "url"),
    "not a url": ({"url": "hook", "events": ["*"]}, "url"),
    "loopback": ({"url": "http://127.0.0.1:9/hook", "events": ["*"]}, "url"),
    "private": ({"url": "http://10.1.2.3/hook", "events": ["*"]}, "url"),
    "link-local": ({"url": "http://169.254.169.254/latest", "events": ["*"]}, "url"),
    "ipv6 loopback": ({"url": "http://[::1]/hook", "events": ["*"]}, "url"),
    "mapped loopback": ({"url": "http://[::ffff:127.0.0.1]/hook", "events": ["*"]}, "url"),
    "localhost": ({"url": "http://localhost:8000/hook", "events": ["*"]}, "url"),
    "unknown event": (
        {"url": "http://93.184.216.34/hook", "events": ["ticket.exploded"]},
        "events",
    ),
    "no events": ({"url": "http://93.184.216.34/hook", "events": []}, "events"),
    "star and more": ({"url": "http://93.184.216.34/hook", "events": ["*", "opened"]}, "events"),
    "no url": ({"events": ["*"]}, "url"),
    "url too long": ({"url": "http://93.184.216.34/" + "a" * 2100, "events": ["*"]}, "url"),
    "url with a newline": ({"url": "http://93.184.216.34/a\nb", "events": ["*"]}, "url"),
    "url not text": ({"url": 42, "events": ["*"]}, "url"),
    "events not a list": ({"url": "http://93.184.216.34/hook", "events": "*"}, "events"),
    "event with spaces": (
        {"url": "http://93.184.216.34/hook", "events.0": ["ticket opened"]},
        "events",
    ),
    "too many events": ({"url": "http://93.184.216.34/hook", "events": ["opened"] * 101}, "events"),
    "control in description": (
        {"url": "http://93.184.216.34/hook", "events": ["*"], "description": "a\u0000b"},
        "description",
    ),
    "unknown member": (
        {"url": "http://93.184.216.34/hook", "events": ["*"], "secret": "x"},
        "secret",
    ),
}


@pytest.mark.parametrize("case", BAD_SUBSCRIPTIONS, ids=list(BAD_SUBSCRIPTIONS))
def test_a_bad_subscription_is_422_naming_the_field_and_stores_nothing(api_as, case: str):
    admin = api_as("admin")
    body, field = BAD_SUBSCRIPTIONS[case]
    before = head(admin)
    assert_problem(admin.post("/v1/webhooks", body), 422, field)
    assert head(admin) == before


def test_a_duplicate_subscription_is_409_naming_the_first(api_as):
    admin = api_as("admin")
    body = {"url": "http://93.184.216.34/dup", "events": ["opened", "ticket.resolved"]}
    first = admin.post("/v1/webhooks", body)
    assert first.status_code == 201, first.text
    before = head(admin)
    again = admin.post("/v1/webhooks", {**body, "events": list(reversed(body["events"]))})
    problem = assert_problem(again, 409)
    assert problem["type"].endswith("duplicate-webhook")
    assert problem["webhook_id"] == first.json()["id"]
    assert head(admin) == before
    assert admin.delete(f"/v1/webhooks/{first.json()['id']}").status_code == 204


def test_webhooks_are_for_admins_only(api_as):
    for role in ("integrator", "agent", "supervisor", "auditor", "analyst"):
        assert api_as(role).get("/v1/webhooks").status_code == 403


def test_unknown_subscriptions_and_deliveries_are_404(api_as):
    admin = api_as("admin")
    nobody = "00000000-0000-4000-8000-000000000000"
    assert admin.get(f"/v1/webhooks/{nobody}").status_code == 404
    assert admin.delete(f"/v1/webhooks/{nobody}").status_code == 404
    assert admin.get(f"/v1/webhooks/{nobody}/deliveries").status_code == 404
    assert admin.post(f"/v1/webhooks/{nobody}/replay", {"after_position": 0}).status_code == 404


def test_a_projector_killed_mid_delivery_loses_no_event_and_resends_under_the_same_id(
    delivering: Server, admin: Api, integrator: Api
):
    with receiving(delay_seconds=0.2) as receiver:
        webhook = _subscribe(admin, receiver.url, ["ticket.opened"])
        opened = {integrator.open_ticket()["id"] for _ in range(20)}
        eventually(lambda: len(receiver.received) >= 3, "the first deliveries")
        for projector in projector_pids(delivering.process.pid):
            os.kill(projector, signal.SIGKILL)

        def all_arrived() -> bool:
            return {r.event["ticket_id"] for r in receiver.received} >= opened

        eventually(all_arrived, "every opening, after the restart", seconds=60)
        ids_by_ticket: dict[str, set[str]] = {}
        for request in receiver.received:
            ids_by_ticket.setdefault(request.event["ticket_id"], set()).add(
                request.headers["webhook-id"]
            )
        assert all(len(ids) == 1 for ids in ids_by_ticket.values())  # a resend keeps its id
        eventually(
            lambda: len(_deliveries(admin, webhook, status="delivered", limit=200)) == 20,
            "every delivery recorded as delivered",
        )
        admin.delete(f"/v1/webhooks/{webhook['id']}")


def test_a_delivery_still_pending_when_its_customer_is_erased_arrives_erased(
    admin: Api, integrator: Api
):
    with receiving(answers=[500]) as receiver:
        webhook = _subscribe(admin, receiver.url, ["ticket.opened"])
        who = {"name": "Rosa Quispe", "email": "rosa.quispe@example.com"}
        opened = integrator.open_ticket(requester=who)
        eventually(lambda: receiver.received, "the first, refused, attempt")
        assert receiver.received[0].event["data"]["requester"]["name"] == "Rosa Quispe"

        erased = admin.post(f"/v1/customers/{opened['customer_id']}/erase", {})
        assert erased.status_code == 200, erased.text
        eventually(lambda: len(receiver.received) >= 2, "the retry")
        retried = receiver.received[1].event
        assert retried["data"]["requester"]["name"] == "[erased]"
        assert "rosa.quispe" not in receiver.received[1].body.decode()
        admin.delete(f"/v1/webhooks/{webhook['id']}")
