"""Log lines carry no query string and no exception message, whoever writes them."""

from __future__ import annotations

import json
import logging

from interface.http.server.json_logs import JsonFormatter, error_fields

EMAIL = "ana.secreta@example.com"


def line(message: str, *args: object) -> dict:
    record = logging.LogRecord("gunicorn.error", logging.ERROR, __file__, 1, message, args, None)
    return json.loads(JsonFormatter().format(record))


def test_a_query_string_in_a_message_is_cut_off_after_the_path():
    entry = line("Error handling request %s %s", "GET", f"/v1/tickets?q={EMAIL}&status=open")
    assert entry["message"] == "Error handling request GET /v1/tickets"


def test_a_message_without_a_query_string_is_kept_whole():
    assert line("Booting worker with pid: %s", 42)["message"] == "Booting worker with pid: 42"


def test_error_fields_name_every_exception_in_the_chain_but_none_of_their_messages():
    try:
        try:
            int(EMAIL)
        except ValueError as cause:
            raise RuntimeError(f"could not read {EMAIL}") from cause
    except RuntimeError as error:
        fields = error_fields(error)
    assert fields["exception_type"] == "builtins.RuntimeError"
    assert "builtins.ValueError" in fields["traceback"]
    assert "test_error_fields_name_every_exception" in fields["traceback"]
    assert EMAIL not in json.dumps(fields)
