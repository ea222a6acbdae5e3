"""Idempotency-Key on POSTs: a retry with the same key and body gets the first answer."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

import falcon

from application.idempotency import IdempotencyClaim, PreviousAttempt
from interface.http.errors import Problem, validation_problem
from interface.http.representations import render_ticket

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def idempotent(responder: Callable[..., None]) -> Callable[..., None]:
    """Wrap a ticket command so a key is reserved before it runs, completed with its
    events (the responder passes req.context.claim to the application), and released
    when it fails, since only successful answers are kept."""

    @functools.wraps(responder)
    def wrapper(resource: Any, req: falcon.Request, resp: falcon.Response, **params: Any) -> None:
        claim = claim_for(req)
        req.context.claim = claim
        if claim is None:
            responder(resource, req, resp, **params)
            return
        store = resource.atende.idempotency
        previous = store.reserve(claim)
        if previous is not None:
            replay(resource, resp, claim, previous)
            return
        try:
            responder(resource, req, resp, **params)
        except BaseException:
            store.release(claim)
            raise

    return wrapper


def claim_for(req: falcon.Request) -> IdempotencyClaim | None:
    key = req.get_header(HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise validation_problem({HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} printable characters."]})
    body = json.dumps(req.get_media(default_when_empty={}), sort_keys=True, separators=(",", ":"))
    fingerprint = hashlib.sha256(f"{req.method} {req.path}\n{body}".encode()).hexdigest()
    return IdempotencyClaim(principal=req.context.actor.id, key=key, fingerprint=fingerprint)


def replay(
    resource: Any, resp: falcon.Response, claim: IdempotencyClaim, previous: PreviousAttempt
) -> None:
    if previous.fingerprint != claim.fingerprint:
        raise validation_problem(
            {HEADER: ["This key was already used with a different request body."]}
        )
    if previous.in_flight:
        raise Problem(
            falcon.HTTP_409,
            "request-in-flight",
            "Request in flight",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            headers={"Retry-After": "1"},
        )
    result = resource.atende.tickets.ticket_result(previous.resource_id, previous.version)
    render_ticket(resp, result, status=previous.status)
    resp.set_header("Idempotent-Replayed", "true")
