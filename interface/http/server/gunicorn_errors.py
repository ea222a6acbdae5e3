"""gunicorn's own error answers (a malformed request line, oversize heads: refused before
Atende sees the request) as problem+json, like every other error.

gunicorn has no setting for these bodies: it writes them with ``gunicorn.util.write_error``
(HTML), so each worker replaces that function once (``post_worker_init`` in
gunicorn_conf.py). The detail never echoes gunicorn's message, which quotes the request
line (paths and query strings carry personal data).
"""

from __future__ import annotations

import json
import re
from typing import Any

import gunicorn.util

PROBLEM_JSON = "application/problem+json"


def write_problem(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """Same signature and framing as ``gunicorn.util.write_error``; the connection closes."""
    slug = re.sub(r"[^a-z0-9]+", "-", reason.lower()).strip("-") or f"http-{status_int}"
    body = json.dumps(
        {
            "type": f"urn:atende:problem:{slug}",
            "title": reason,
            "status": status_int,
            "detail": f"The request was refused before it reached Atende: {reason.lower()}.",
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: {PROBLEM_JSON}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    gunicorn.util.write_nonblock(sock, head.encode("latin-1") + body)


def install() -> None:
    gunicorn.util.write_error = write_problem
