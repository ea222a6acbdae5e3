"""Request bodies: JSON only, bounded in size and in nesting depth."""

from __future__ import annotations

import json
from typing import Any

import falcon
import falcon.media

from interface.http.errors import Problem


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
            return self._deserialize(data)
        except RecursionError:
            raise falcon.MediaMalformedError("JSON") from None


class BodyLimit:
    """Refuse declared oversize bodies before anything reads them."""

    def __init__(self, limit: int):
        self.limit = limit

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.content_length is not None and req.content_length > self.limit:
            raise body_too_large(self.limit)


def body_too_large(limit: int) -> Problem:
    return Problem(
        falcon.HTTP_413,
        "body-too-large",
        "Request body too large",
        f"The request body must be at most {limit} bytes.",
    )
