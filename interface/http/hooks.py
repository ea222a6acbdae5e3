"""Before-hooks shared by resources: body validation and If-Match parsing."""

from __future__ import annotations

from typing import Any

import falcon

from interface.http.errors import Problem


def validate_body(req: falcon.Request, resp: falcon.Response, resource: Any, params: Any) -> None:
    """Load the JSON body with the resource's ``schema`` (an instance, built once:
    building a marshmallow schema costs more than loading a body with it)."""
    media = req.get_media(default_when_empty={})
    req.context.body = resource.schema.load(media)


def expected_version(req: falcon.Request) -> int | None:
    """The version an ``If-Match`` header asks for; None when absent or ``*``."""
    tags = req.if_match
    if not tags or "*" in tags:
        return None
    for tag in tags:
        if not tag.is_weak and tag.isdigit():
            return int(tag)
    raise Problem(
        falcon.HTTP_412,
        "precondition-failed",
        "Precondition failed",
        'If-Match must be the ticket\'s ETag, e.g. "3".',
    )
