"""Answers are written by orjson (interface/http/middleware/media.py): what a client
parses must be what the stdlib's json would have given it."""

from __future__ import annotations

import io
import json

from interface.http.middleware.media import BoundedJSONHandler

HANDLER = BoundedJSONHandler(limit=1024)


def written(media: object) -> bytes:
    return HANDLER.serialize(media, "application/json")


def test_an_answer_keeps_non_ascii_text_as_utf8_and_parses_to_the_same_value():
    media = {"subject": "Sin conexión — São Paulo ñandú 🙂", "n": 3, "ok": True, "none": None}
    body = written(media)
    assert "conexión".encode() in body
    assert json.loads(body) == media


def test_an_answer_with_numeric_keys_is_written_as_the_stdlib_writes_it():
    media = {"histogram": {60: 3, 3600: 1}}
    assert json.loads(written(media)) == json.loads(json.dumps(media))


def test_a_request_body_is_still_read_with_its_bounds():
    body = b'{"a": [1, 2, 3]}'
    assert HANDLER.deserialize(io.BytesIO(body), "application/json", len(body)) == {"a": [1, 2, 3]}
