"""Token routes (issue 20), admin only: issue and list, read one, revoke, rotate.

Token management is admin only (DESIGN.md, Clarification 6). The secret is in the answer
to POST /v1/tokens and to a rotation, and nowhere else: it is not stored. With an
Idempotency-Key the secret is derived from the key (application.tokens), so a retry gets
the same answer, secret included, without it having been kept.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import falcon

from application.idempotency import PreviousAttempt
from application.ports import AnswersRetries
from application.tokens import ApiTokens, IssuedToken, TokenRecord
from interface.http.hooks import validate_body
from interface.http.idempotency import idempotent
from interface.http.middleware.auth import allow
from interface.http.openapi.operation import ADMIN, Operation, Operations
from interface.http.schemas.common import EmptyIn
from interface.http.schemas.tokens import (
    IssuedTokenOut,
    RotateIn,
    TokenIn,
    TokenListOut,
    TokenOut,
)

TOKEN = "/v1/tokens/{token_id:uuid}"


_TOKEN_OUT = TokenOut()


def _issued(resp: falcon.Response, issued: IssuedToken, status: int) -> None:
    resp.status = status
    resp.media = {**_TOKEN_OUT.dump(issued.record), "token": issued.token}
    resp.cache_control = ["no-store"]  # a secret: no cache may keep this answer
    if status == 201:
        resp.location = f"/v1/tokens/{issued.record.id}"


def _record(resp: falcon.Response, record: TokenRecord) -> None:
    resp.media = _TOKEN_OUT.dump(record)


def replay_issued(resource: Any, req: falcon.Request, resp: falcon.Response,
                  previous: PreviousAttempt, position: int, **params: Any) -> None:  # fmt: skip
    """A token creation's or rotation's first answer again, the same secret included."""
    issued = resource.tokens.issued_again(previous.resource_id, previous.version, req.context.claim)
    _issued(resp, issued, previous.status)


def replay_record(resource: Any, req: falcon.Request, resp: falcon.Response,
                  previous: PreviousAttempt, position: int, **params: Any) -> None:  # fmt: skip
    _record(resp, resource.tokens.record(previous.resource_id))


class _TokenCommand:
    """What the token commands hold: the tokens, and the idempotency answers
    (``@idempotent`` reads ``retries``)."""

    def __init__(self, *, tokens: ApiTokens, retries: AnswersRetries):
        self.tokens = tokens
        self.retries = retries


class TokenCollection(_TokenCommand):
    schema = TokenIn()

    @falcon.before(allow())
    @falcon.before(validate_body)
    @idempotent(replay=replay_issued)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        issued = self.tokens.create(
            **req.context.body, actor=req.context.actor, idempotency=req.context.claim
        )
        _issued(resp, issued, 201)

    @falcon.before(allow())
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"items": _TOKEN_OUT.dump(self.tokens.list(), many=True)}


class TokenItem:
    def __init__(self, *, tokens: ApiTokens):
        self.tokens = tokens

    @falcon.before(allow())
    def on_get(self, req: falcon.Request, resp: falcon.Response, token_id: UUID) -> None:
        _record(resp, self.tokens.record(token_id))


class TokenRevocation(_TokenCommand):
    schema = EmptyIn()

    @falcon.before(allow())
    @falcon.before(validate_body)
    @idempotent(replay=replay_record)
    def on_post(self, req: falcon.Request, resp: falcon.Response, token_id: UUID) -> None:
        # Revoking a revoked token answers the same and records nothing.
        record, _ = self.tokens.revoke(
            token_id, actor=req.context.actor, idempotency=req.context.claim
        )
        _record(resp, record)


class TokenRotation(_TokenCommand):
    schema = RotateIn()

    @falcon.before(allow())
    @falcon.before(validate_body)
    @idempotent(replay=replay_issued)
    def on_post(self, req: falcon.Request, resp: falcon.Response, token_id: UUID) -> None:
        issued = self.tokens.rotate(
            token_id, **req.context.body, actor=req.context.actor, idempotency=req.context.claim
        )
        _issued(resp, issued, 200)


OPERATIONS: Operations = {
    ("/v1/tokens", "post"): Operation(
        "Issue an API token (its secret is in this answer only)",
        "tokens",
        ADMIN,
        IssuedTokenOut,
        statuses=(201,),
        body=TokenIn,
        errors=(404, 409),
        idempotent=True,
    ),
    ("/v1/tokens", "get"): Operation(
        "Every API token (never a secret)", "tokens", ADMIN, TokenListOut
    ),
    (TOKEN, "get"): Operation("Read an API token", "tokens", ADMIN, TokenOut, errors=(404,)),
    (f"{TOKEN}/revoke", "post"): Operation(
        "Revoke an API token (again: the same answer, nothing recorded)",
        "tokens",
        ADMIN,
        TokenOut,
        body=EmptyIn,
        errors=(404,),
        idempotent=True,
    ),
    (f"{TOKEN}/rotate", "post"): Operation(
        "Give an API token a new secret; the old one works for the grace period",
        "tokens",
        ADMIN,
        IssuedTokenOut,
        body=RotateIn,
        errors=(404, 409),
        idempotent=True,
    ),
}


def add_token_routes(app: falcon.App, *, tokens: ApiTokens, retries: AnswersRetries) -> None:
    app.add_route("/v1/tokens", TokenCollection(tokens=tokens, retries=retries))
    app.add_route(TOKEN, TokenItem(tokens=tokens))
    app.add_route(f"{TOKEN}/revoke", TokenRevocation(tokens=tokens, retries=retries))
    app.add_route(f"{TOKEN}/rotate", TokenRotation(tokens=tokens, retries=retries))
