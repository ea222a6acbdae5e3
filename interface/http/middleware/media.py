"""Request bodies: JSON only, bounded in size and in nesting depth."""

from __future__ import annotations

import io
import json
from typing import Any

import falcon
import falcon.media
import orjson

from interface.http.errors import Problem, validation_problem

EMAIL_PATH = "/v1/intake/email"  # raw messages: a limit of their own
MAX_OBJECTS = 10_000
MAX_ARRAY_ITEMS = 1_000


class BoundedJSONHandler(falcon.media.JSONHandler):
    """Falcon's JSON handler, bounded: at most ``limit`` bytes, ``MAX_OBJECTS`` objects
    (counted as the parser builds them, so a body of tiny objects stops early) and
    ``MAX_ARRAY_ITEMS`` items in an array (no input takes more than 50: validation would
    otherwise build an error for each of 250,000 items, 120 MB). Deep nesting is answered
    with 400 instead of letting RecursionError become a 500."""

    def __init__(self, limit: int):
        # Answers are written by orjson, the encoder falcon's docs recommend: the stdlib's
        # took 134 µs for a 50-item queue page, a tenth of a queue read's CPU, and orjson
        # 7 µs (issue 19). Bodies are still read by the stdlib, whose object_hook bounds
        # them as they are parsed (orjson has none); they are small.
        super().__init__(dumps=_dumps, loads=json.loads)
        self.limit = limit

    def deserialize(self, stream: Any, content_type: str | None, content_length: int | None) -> Any:
        data = stream.read(self.limit + 1)
        if len(data) > self.limit:
            raise body_too_large(self.limit)
        if not data:
            raise falcon.MediaNotFoundError("JSON")
        try:
            document = json.loads(data.decode(), object_hook=_ObjectCounter())
        except _TooManyObjects:
            raise too_many_values(f"at most {MAX_OBJECTS} objects") from None
        except RecursionError:
            raise falcon.MediaMalformedError("JSON") from None
        except ValueError as error:  # UnicodeDecodeError included
            raise falcon.MediaMalformedError("JSON") from error
        _check_values(document)
        return document


def _dumps(media: Any) -> bytes:
    # Non-string keys as the stdlib writes them (a histogram keyed by seconds, say).
    return orjson.dumps(media, option=orjson.OPT_NON_STR_KEYS)


class _TooManyObjects(Exception):
    pass


class _ObjectCounter:
    def __init__(self) -> None:
        self.left = MAX_OBJECTS

    def __call__(self, value: dict) -> dict:
        self.left -= 1
        if self.left < 0:
            raise _TooManyObjects
        return value


def _check_values(document: Any) -> None:
    """Arrays within their bound, and no lone surrogate: JSON allows "\\ud800" escapes that
    are not text; nothing downstream can store them as UTF-8, so they are malformed input,
    not a server error. Walked with a stack: the parser already bounded the depth."""
    pending: list[tuple[str, Any]] = [("", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if _is_lone_surrogate_text(value):
                raise falcon.MediaMalformedError("JSON")
        elif isinstance(value, dict):
            for key, item in value.items():
                if _is_lone_surrogate_text(key):
                    raise falcon.MediaMalformedError("JSON")
                pending.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            if len(value) > MAX_ARRAY_ITEMS:
                raise validation_problem({path or "_body": [
                    f"At most {MAX_ARRAY_ITEMS} items in a list; this one has {len(value)}."
                ]})  # fmt: skip
            prefix = f"{path}." if path else ""
            pending.extend((f"{prefix}{n}", item) for n, item in enumerate(value))


def _is_lone_surrogate_text(value: str) -> bool:
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def too_many_values(bound: str) -> Problem:
    return Problem(
        falcon.HTTP_413,
        "body-too-large",
        "Request body too large",
        f"A JSON request body may hold {bound}.",
    )


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
