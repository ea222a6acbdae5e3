"""Request bodies: JSON only, bounded in size and in nesting depth."""

from __future__ import annotations

import io
import json
from typing import Any

import falcon
import falcon.media

from interface.http.errors import Problem

EMAIL_PATH = "/v1/intake/email"  # raw messages: a limit of their own


class BoundedJSONHandler(falcon.media.JSONHandler):
    """Falcon's JSON handler, reading at most ``limit`` bytes, and answering deeply
    nested documents with 400 instead of letting RecursionError become a 500."""

    def __init__(self, limit: int):
        super().__init__(loads=json.loads)
        self.limit = limit

    def deserialize(self, stream: Any, content_type: str | None, content_length: int | None) -> Any:
        data = stream.read(self.limit + 1)
        if len(data) > self.limit:
            raise body_too_large(self.limit)
        try:
            document = self._deserialize(data)
        except RecursionError:
            raise falcon.MediaMalformedError("JSON") from None
        if _has_lone_surrogate(document):
            # JSON allows "\ud800" escapes that are not text; nothing downstream can
            # store them as UTF-8, so they are malformed input, not a server error.
            raise falcon.MediaMalformedError("JSON")
        return document


class BodyLimit:
    """Refuse declared oversize bodies before anything reads them, and buffer chunked
    bodies (no Content-Length) up to the limit, since Falcon reads a body only as far
    as its declared length."""

    def __init__(self, limit: int, by_path: dict[str, int] | None = None):
        self.limit = limit
        self.by_path = by_path or {}  # routes that take bigger bodies (raw email)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.content_type:
            # Media types are case-insensitive (RFC 9110), Falcon's handler lookup is not:
            # APPLICATION/JSON is JSON.
            media_type, sep, parameters = req.content_type.partition(";")
            req.content_type = media_type.strip().lower() + sep + parameters
        limit = self.by_path.get(req.path, self.limit)
        if req.content_length is not None:
            if req.content_length > limit:
                raise body_too_large(limit)
        elif req.get_header("Transfer-Encoding"):
            data = req.env["wsgi.input"].read(limit + 1)
            if len(data) > limit:
                raise body_too_large(limit)
            req.env["wsgi.input"] = io.BytesIO(data)
            req.env["CONTENT_LENGTH"] = str(len(data))


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        if value.isascii():
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def body_limit(path: str, settings: Any) -> int:
    """The largest body a route takes (as create_app configures BodyLimit)."""
    return settings.max_email_bytes if path == EMAIL_PATH else settings.max_body_bytes


def refused_unread(path: str, content_length: int | None, settings: Any) -> bool:
    """Whether the body will be refused (413) without being read. gunicorn drains only a
    little of an unread body before reusing a connection, and closes it otherwise, after
    having announced keep-alive; its pre_request hook asks for ``Connection: close``
    on such requests instead (interface/http/server/gunicorn_conf.py)."""
    return content_length is not None and content_length > body_limit(path, settings)


def body_too_large(limit: int) -> Problem:
    return Problem(
        falcon.HTTP_413,
        "body-too-large",
        "Request body too large",
        f"The request body must be at most {limit} bytes.",
    )
