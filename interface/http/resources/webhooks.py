"""Webhook routes (issue 22), admin only: subscribe a URL to events, list, read, delete,
rotate the signing secret, enable a disabled one; its deliveries, each one's attempts,
a retry, and a replay from a feed position.

The signing secret is in the answer to POST /v1/webhooks and to a rotation only. A
subscription's deliveries are made by the projector (the log is followed, as for any
view): right after a change, pass ``after_position`` to read what it has seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import falcon

from application.errors import WebhookDeliveryNotFound
from application.webhooks import IssuedSubscription, WebhookSubscriptions
from domain.webhook import Subscription
from infrastructure.outbound.webhook_view import SqlWebhookRows, unstamp
from interface.http.hooks import validate_body
from interface.http.middleware.auth import allow
from interface.http.openapi.operation import ADMIN, Operation, Operations
from interface.http.schemas.common import EmptyIn
from interface.http.schemas.webhooks import (
    DeliveriesQuery,
    DeliveryListOut,
    DeliveryOut,
    ReplayIn,
    ReplayOut,
    WebhookIn,
    WebhookListOut,
    WebhookOut,
)

WEBHOOK = "/v1/webhooks/{webhook_id:uuid}"
DELIVERY = f"{WEBHOOK}/deliveries/{{delivery_id:uuid}}"

_OUT = WebhookOut()
_DELIVERY_OUT = DeliveryOut()
_QUERY = DeliveriesQuery()
_INSTANTS = ("next_attempt_at", "last_attempt_at", "delivered_at", "created_at")


def _subscription(subscription: Subscription, secret: str | None = None) -> dict[str, Any]:
    shown = _OUT.dump(subscription)
    if secret is not None:
        shown["secret"] = secret
    return shown


def _issued(resp: falcon.Response, issued: IssuedSubscription, status: int) -> None:
    resp.status = status
    resp.media = _subscription(issued.subscription, issued.secret)
    resp.cache_control = ["no-store"]  # a secret: no cache may keep this answer
    if status == 201:
        resp.location = f"/v1/webhooks/{issued.subscription.id}"


def _delivery(row: dict[str, Any], attempts: list[Any] | None = None) -> dict[str, Any]:
    shown = {**row, **{name: unstamp(row[name]) for name in _INSTANTS}}
    if row["status"] != "pending":
        shown["next_attempt_at"] = None
    if attempts is not None:
        shown["attempt_log"] = attempts
    return _DELIVERY_OUT.dump(shown)


# Queues every event after a position that the subscription takes; how many it queued.
Replay = Callable[[Subscription, int], int]


class _Webhooks:
    def __init__(
        self, *, webhooks: WebhookSubscriptions, deliveries: SqlWebhookRows, replay: Replay
    ):
        self.webhooks = webhooks
        self.deliveries = deliveries
        self.replay = replay


class WebhookCollection(_Webhooks):
    schema = WebhookIn()

    @falcon.before(allow())
    @falcon.before(validate_body)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        issued = self.webhooks.subscribe(**req.context.body, actor=req.context.actor)
        _issued(resp, issued, 201)

    @falcon.before(allow())
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"items": [_subscription(s) for s in self.webhooks.list()]}


class WebhookItem(_Webhooks):
    @falcon.before(allow())
    def on_get(self, req: falcon.Request, resp: falcon.Response, webhook_id: UUID) -> None:
        resp.media = _subscription(self.webhooks.get(webhook_id))

    @falcon.before(allow())
    def on_delete(self, req: falcon.Request, resp: falcon.Response, webhook_id: UUID) -> None:
        self.webhooks.unsubscribe(webhook_id, req.context.actor)
        resp.status = falcon.HTTP_204


class WebhookSecretRotation(_Webhooks):
    schema = EmptyIn()

    @falcon.before(allow())
    @falcon.before(validate_body)
    def on_post(self, req: falcon.Request, resp: falcon.Response, webhook_id: UUID) -> None:
        _issued(resp, self.webhooks.rotate_secret(webhook_id, req.context.actor), 200)


class WebhookEnabling(_Webhooks):
    schema = EmptyIn()

    @falcon.before(allow())
    @falcon.before(validate_body)
    def on_post(self, req: falcon.Request, resp: falcon.Response, webhook_id: UUID) -> None:
        resp.media = _subscription(self.webhooks.enable(webhook_id, req.context.actor))


class WebhookDeliveries(_Webhooks):
    @falcon.before(allow())
    def on_get(self, req: falcon.Request, resp: falcon.Response, webhook_id: UUID) -> None:
        query = _QUERY.load(req.params)
        self.webhooks.get(webhook_id)  # 404 for no such subscription
        rows = self.deliveries.deliveries(
            str(webhook_id),
            status=query.get("status"),
            before=query.get("before"),
            limit=query["limit"],
        )
        full = len(rows) == query["limit"]
        resp.media = {
            "items": [_delivery(row) for row in rows],
            "next_before": rows[-1]["position"] if rows and full else None,
        }


class _OneDelivery(_Webhooks):
    def _row(self, webhook_id: UUID, delivery_id: UUID) -> dict[str, Any]:
        self.webhooks.get(webhook_id)
        row = self.deliveries.delivery(str(delivery_id))
        if row is None or row["subscription_id"] != str(webhook_id):
            raise WebhookDeliveryNotFound(delivery_id)
        return row


class WebhookDelivery(_OneDelivery):
    @falcon.before(allow())
    def on_get(
        self, req: falcon.Request, resp: falcon.Response, webhook_id: UUID, delivery_id: UUID
    ) -> None:
        row = self._row(webhook_id, delivery_id)
        resp.media = _delivery(row, self.deliveries.attempts(row["id"]))


class WebhookDeliveryRetry(_OneDelivery):
    schema = EmptyIn()

    @falcon.before(allow())
    @falcon.before(validate_body)
    def on_post(
        self, req: falcon.Request, resp: falcon.Response, webhook_id: UUID, delivery_id: UUID
    ) -> None:
        row = self._row(webhook_id, delivery_id)
        self.deliveries.retry_now(row["id"], self.webhooks.clock())
        resp.status = falcon.HTTP_202
        resp.media = _delivery(self.deliveries.delivery(row["id"]) or row)


class WebhookReplay(_Webhooks):
    schema = ReplayIn()

    @falcon.before(allow())
    @falcon.before(validate_body)
    def on_post(self, req: falcon.Request, resp: falcon.Response, webhook_id: UUID) -> None:
        subscription = self.webhooks.get(webhook_id)
        queued = self.replay(subscription, req.context.body["after_position"])
        resp.status = falcon.HTTP_202
        resp.media = {"queued": queued}


OPERATIONS: Operations = {
    ("/v1/webhooks", "post"): Operation(
        "Subscribe a URL to events (the signing secret is in this answer only)",
        "webhooks",
        ADMIN,
        WebhookOut,
        statuses=(201,),
        body=WebhookIn,
        errors=(409,),
    ),
    ("/v1/webhooks", "get"): Operation(
        "Every webhook subscription (never a secret)", "webhooks", ADMIN, WebhookListOut
    ),
    (WEBHOOK, "get"): Operation(
        "Read a webhook subscription", "webhooks", ADMIN, WebhookOut, errors=(404,)
    ),
    (WEBHOOK, "delete"): Operation(
        "Delete a webhook subscription: nothing more is delivered to it",
        "webhooks",
        ADMIN,
        None,
        statuses=(204,),
        errors=(404,),
    ),
    (f"{WEBHOOK}/rotate-secret", "post"): Operation(
        "Give a subscription a new signing secret; deliveries carry the old one's "
        "signature too for 24 h",
        "webhooks",
        ADMIN,
        WebhookOut,
        body=EmptyIn,
        errors=(404,),
    ),
    (f"{WEBHOOK}/enable", "post"): Operation(
        "Enable a disabled subscription: deliveries pending and new events go out again",
        "webhooks",
        ADMIN,
        WebhookOut,
        body=EmptyIn,
        errors=(404,),
    ),
    (f"{WEBHOOK}/deliveries", "get"): Operation(
        "A subscription's deliveries, newest first",
        "webhooks",
        ADMIN,
        DeliveryListOut,
        query=DeliveriesQuery,
        errors=(404,),
    ),
    (DELIVERY, "get"): Operation(
        "A delivery, with every attempt", "webhooks", ADMIN, DeliveryOut, errors=(404,)
    ),
    (f"{DELIVERY}/retry", "post"): Operation(
        "Send a delivery again now (a failed one too), with a fresh retry window",
        "webhooks",
        ADMIN,
        DeliveryOut,
        statuses=(202,),
        body=EmptyIn,
        errors=(404,),
    ),
    (f"{WEBHOOK}/replay", "post"): Operation(
        "Deliver again every event after a feed position that the subscription takes",
        "webhooks",
        ADMIN,
        ReplayOut,
        statuses=(202,),
        body=ReplayIn,
        errors=(404,),
    ),
}


def add_webhook_routes(
    app: falcon.App, *, webhooks: WebhookSubscriptions, deliveries: SqlWebhookRows,
    replay: Replay,
) -> None:  # fmt: skip
    parts = {"webhooks": webhooks, "deliveries": deliveries, "replay": replay}
    app.add_route("/v1/webhooks", WebhookCollection(**parts))
    app.add_route(WEBHOOK, WebhookItem(**parts))
    app.add_route(f"{WEBHOOK}/rotate-secret", WebhookSecretRotation(**parts))
    app.add_route(f"{WEBHOOK}/enable", WebhookEnabling(**parts))
    app.add_route(f"{WEBHOOK}/deliveries", WebhookDeliveries(**parts))
    app.add_route(DELIVERY, WebhookDelivery(**parts))
    app.add_route(f"{DELIVERY}/retry", WebhookDeliveryRetry(**parts))
    app.add_route(f"{WEBHOOK}/replay", WebhookReplay(**parts))
