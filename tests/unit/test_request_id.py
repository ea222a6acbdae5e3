"""Request ids: the caller's when sane, a new one otherwise; and on every JSON log line."""

from __future__ import annotations

import json
import logging

import pytest

from interface.http.middleware.request_id import current_request_id, request_id_from
from interface.http.server.json_logs import JsonFormatter


@pytest.mark.parametrize("given", ["abc", "0f3c-77.a:b_c", "x" * 128])
def test_a_sane_request_id_is_kept(given):
    assert request_id_from(given) == given


@pytest.mark.parametrize("given", [None, "", "x" * 129, "has space", 'quote"', "new\nline", "ñ"])
def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_one(given):
    made = request_id_from(given)
    assert made != given and len(made) == 32 and int(made, 16) >= 0


def test_two_new_request_ids_differ():
    assert request_id_from(None) != request_id_from(None)


def _record(message: str, **fields: object) -> logging.LogRecord:
    record = logging.LogRecord("atende.test", logging.WARNING, __file__, 1, message, (), None)
    record.fields = fields
    return record


def test_a_log_line_is_one_json_object_with_the_current_request_id():
    token = current_request_id.set("req-1")
    try:
        line = JsonFormatter().format(_record("storage\nunavailable"))
    finally:
        current_request_id.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "req-1" and entry["level"] == "warning"
    assert entry["logger"] == "atende.test" and entry["message"] == "storage\nunavailable"


def test_a_log_line_outside_a_request_has_no_request_id_but_keeps_its_fields():
    entry = json.loads(JsonFormatter().format(_record("request", status=200, route="/v1/queue")))
    assert "request_id" not in entry
    assert entry["status"] == 200 and entry["route"] == "/v1/queue"
