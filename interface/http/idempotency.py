"""Idempotency-Key on POSTs: a retry with the same key and body gets the first answer.

A resource whose responder is ``@idempotent`` holds ``retries``, an ``AnswersRetries``
(application/ports.py; the ticket application): the store of answers, the log positions
their events sit at, and the ticket a first answer named. It needs nothing else of Atende."""

from __future__ import annotations

import functools
import io
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import falcon

from application.idempotency import IdempotencyClaim, IdempotencyStore, PreviousAttempt
from application.ports import AnswersRetries
from interface.http.errors import Problem, validation_problem
from interface.http.representations import render_ticket

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
log = logging.getLogger("atende.http")

# Renders the first answer again: (resource, req, resp, previous, position, **params).
# ``previous`` names the aggregate and version the answer was about, ``position`` the
# global position of that event (it exists: it was looked up in the log).
Replay = Callable[..., None]


def replay_ticket(
    resource: Any, req: falcon.Request, resp: falcon.Response, previous: PreviousAttempt,
    position: int, **params: Any,
) -> None:  # fmt: skip
    result = resource.retries.ticket_result(previous.resource_id, previous.version)
    render_ticket(resp, result, status=previous.status)


def idempotent(responder: Callable[..., None] | None = None, *, replay: Replay = replay_ticket):
    """Wrap a command so a key is reserved before it runs, completed with its events
    (the responder passes req.context.claim to the application), and released when it
    fails, since only successful answers are kept. ``replay`` renders a retry's answer
    (a ticket by default); use as ``@idempotent`` or ``@idempotent(replay=...)``."""
    if responder is None:
        return functools.partial(idempotent, replay=replay)

    @functools.wraps(responder)
    def wrapper(resource: Any, req: falcon.Request, resp: falcon.Response, **params: Any) -> None:
        retries: AnswersRetries = resource.retries
        store = retries.idempotency
        claim = claim_for(req, store)
        req.context.claim = claim
        if claim is None:
            responder(resource, req, resp, **params)
            return
        previous = store.reserve(claim)
        if previous is not None:
            position = replayable(retries, claim, previous)
            replay(resource, req, resp, previous, position, **params)
            resp.set_header("Idempotent-Replayed", "true")
            return
        try:
            responder(resource, req, resp, **params)
        except BaseException:
            store.release(claim)
            raise

    return wrapper


# Printable ASCII, not only spaces (the document states this pattern): a header is
# ISO-8859-1 on the wire, and a key is an id, not text.
KEY_PATTERN = re.compile(r"[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*")


def claim_for(req: falcon.Request, store: IdempotencyStore) -> IdempotencyClaim | None:
    key = req.get_header(HEADER)
    if key is None:
        return None
    if KEY_PATTERN.fullmatch(key) is None or len(key) > MAX_KEY_LENGTH:
        raise validation_problem(
            {HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."]}
        )
    request = f"{req.method} {req.path}\n".encode() + request_body(req)
    return store.claim(principal_of(req, store), key, request)


def principal_of(req: falcon.Request, store: IdempotencyStore) -> str:
    actor = getattr(req.context, "actor", None)
    if actor is not None:
        return actor.id
    # Public routes (a survey link): the link is the credential, so it scopes the key;
    # only its keyed digest is stored, never the link itself.
    return "link:" + store.fingerprint(req.path.encode())


def request_body(req: falcon.Request) -> bytes:
    """JSON in a canonical form (so key order and spacing do not matter); any other body
    (a raw email) as its bytes, left readable again for the responder."""
    if req.content_type is None or falcon.MEDIA_JSON in req.content_type.lower():
        body = req.get_media(default_when_empty={})
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    raw = req.bounded_stream.read()
    # The responder reads the body from the start (BodyLimit has bounded its size).
    req.stream = req.env["wsgi.input"] = io.BytesIO(raw)
    req._bounded_stream = None  # Falcon wraps wsgi.input again on its next access
    return raw


def replayable(retries: AnswersRetries, claim: IdempotencyClaim, previous: PreviousAttempt) -> int:
    """The position of the event the earlier answer names; refuses what must not be
    replayed: another body, a request still running, a row not as Atende wrote it."""
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
    try:
        if not previous.sealed:
            raise KeyError("seal")
        return retries.recorder.position_of(previous.resource_id, previous.version)
    except KeyError:
        log.warning("idempotency row refused: not sealed or names no event in the log")
        raise Problem(
            falcon.HTTP_409,
            "idempotency-record-invalid",
            "Idempotency record invalid",
            "The answer stored for this Idempotency-Key cannot be verified, so it is not "
            "replayed; send the request with a new key.",
        ) from None
