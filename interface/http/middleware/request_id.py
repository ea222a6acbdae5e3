"""Every request gets an id: the caller's ``X-Request-Id`` when it is a sane one, else a
new one. It is echoed in the response, put on every log line the request causes, and
left in the WSGI environ for gunicorn's access log."""

from __future__ import annotations

import contextvars
import re
import uuid

import falcon

HEADER = "X-Request-Id"
ENVIRON_KEY = "atende.request_id"
# Short and plain, so a caller cannot forge log lines or bloat them.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_request_id", default=None
)


def request_id_from(header: str | None) -> str:
    """The caller's id if it is 1-128 letters, digits or ``._:-``; otherwise a new one."""
    if header is not None and _ACCEPTABLE.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestId:
    """Middleware, first in the list, so even requests refused early carry an id."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        request_id = request_id_from(req.get_header(HEADER))
        req.context.request_id = request_id
        req.env[ENVIRON_KEY] = request_id
        # gthread workers reuse threads: the token undoes exactly this request's value.
        req.context.request_id_token = current_request_id.set(request_id)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, succeeded: bool
    ) -> None:
        resp.set_header(HEADER, req.context.request_id)
        current_request_id.reset(req.context.request_id_token)
