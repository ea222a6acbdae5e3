"""Logs as one JSON object per line: gunicorn's access and error logs and the app's own.

The access line is gunicorn's (so it has the true status, size and duration), with
what only the app knows (request id, route template, principal) passed to it through
the WSGI environ. It names the route template, never the path or query: paths carry
survey link tokens and queries personal data. Tokens are never logged. An unhandled
error is logged by the app (interface.http.errors), not by Falcon's default handler,
which writes a plain line with the full query string; as a last guard, a query string
in any message (gunicorn's own "Error handling request /path?...") is cut off.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from traceback import TracebackException
from typing import Any

import falcon
from gunicorn.glogging import Logger

from interface.http.middleware.request_id import ENVIRON_KEY as REQUEST_ID_KEY
from interface.http.middleware.request_id import current_request_id

ROUTE_KEY = "atende.route"
PRINCIPAL_KEY = "atende.principal"
# A query string after a path: what follows "?" up to the next space or quote.
_QUERY = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")


def without_query(text: str) -> str:
    return _QUERY.sub(r"\1", text)


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, the current request's id, and any ``fields`` extra."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": without_query(record.getMessage()),
        }
        request_id = current_request_id.get()
        if request_id is not None:
            entry["request_id"] = request_id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = without_query(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def error_fields(error: BaseException) -> dict[str, Any]:
    """The exception's type and where it was raised (and, for a chain, each cause's),
    without any exception's message: messages carry values (an email that failed to
    parse, a row a constraint refused), and a log line must carry no personal data."""
    stack: list[str] = []
    chain: TracebackException | None = TracebackException.from_exception(error)
    while chain is not None:
        stack[:0] = [*chain.stack.format(), f"{_qualified(chain.exc_type)}\n"]
        chain = chain.__cause__ or (None if chain.__suppress_context__ else chain.__context__)
    return {"exception_type": _qualified(type(error)), "traceback": "".join(stack)}


def _qualified(kind: type | None) -> str:
    return "None" if kind is None else f"{kind.__module__}.{kind.__qualname__}"


class AccessLogContext:
    """Middleware that leaves the route template and principal where gunicorn's access
    log (JsonLogger.access) finds them."""

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, succeeded: bool
    ) -> None:
        req.env[ROUTE_KEY] = req.uri_template
        actor = getattr(req.context, "actor", None)
        if actor is not None:
            req.env[PRINCIPAL_KEY] = {"name": actor.name, "role": actor.role}


def access_fields(resp: Any, environ: dict[str, Any], seconds: float) -> dict[str, Any]:
    return {
        "request_id": environ.get(REQUEST_ID_KEY),
        "method": environ.get("REQUEST_METHOD"),
        "route": environ.get(ROUTE_KEY) or "unmatched",
        "status": getattr(resp, "status_code", None),
        "duration_ms": round(seconds * 1000, 3),
        "bytes": getattr(resp, "sent", None),
        "remote_addr": environ.get("REMOTE_ADDR"),
        "principal": environ.get(PRINCIPAL_KEY),
    }


class JsonLogger(Logger):
    """gunicorn's logger (``logger_class``), writing JSON lines; it also sends the app's
    ``atende.*`` logs, at INFO and above, to stderr as JSON."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = JsonFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)
        log_app_as_json(formatter)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log.handlers:  # no access log configured
            return
        fields = access_fields(resp, environ, request_time.total_seconds())
        self.access_log.info("request", extra={"fields": fields})


def log_app_as_json(formatter: logging.Formatter) -> None:
    """The app's ``atende.*`` logs at INFO and above, and every library's warnings and
    errors (psycopg's pool, the scheduler), to stderr as JSON, never as the plain lines
    of Python's last-resort handler."""
    app_log = logging.getLogger("atende")
    _json_handler(app_log, formatter, logging.INFO)
    app_log.setLevel(logging.INFO)
    app_log.propagate = False
    _json_handler(logging.getLogger(), formatter, logging.WARNING)


def _json_handler(logger: logging.Logger, formatter: logging.Formatter, level: int) -> None:
    for old in [h for h in logger.handlers if getattr(h, "_atende_json", False)]:
        logger.removeHandler(old)  # gunicorn runs setup again on a reload
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.setLevel(level)
    handler._atende_json = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
