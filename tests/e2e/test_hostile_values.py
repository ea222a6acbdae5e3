"""Values that slip past a lenient check, through the real server: a trailing newline after
a pattern (``$`` matches before it) and forged cursors with numbers no database stores.
Each is a 422 naming the field, and nothing is stored."""

from __future__ import annotations

import base64
import json

import pytest

from tests.e2e.api import Api, ticket_body
from tests.e2e.problems import assert_problem, nothing_stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tags": ["vip\n"]}, "tags.0"),
        ({"language": "pt-BR\n"}, "language"),
        ({"requester": {"name": "Ana", "phone": "+5511999\n"}}, "requester.phone"),
    ],
    ids=["tag", "language", "phone"],
)
def test_a_value_with_a_trailing_newline_after_its_pattern_is_422(
    api: Api, auditor: Api, body, field
):
    with nothing_stored(auditor):
        doc = assert_problem(api.post("/v1/tickets", ticket_body(**body)), 422)
    assert any(name.startswith(field.split(".")[0]) for name in doc["errors"]), doc["errors"]


def _forged(cursor: str, value: object) -> str:
    """A real cursor with every number in its sort key replaced by ``value``."""
    doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    doc["k"] = [value if isinstance(v, int | float) else v for v in doc["k"]]
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("value", [2**64, -(2**70), 10**30], ids=["2^64", "-2^70", "1e30"])
@pytest.mark.parametrize("path", ["/v1/tickets", "/v1/queue"])
def test_a_forged_cursor_with_a_number_beyond_64_bits_is_422_naming_cursor(
    api: Api, path, value
):
    position = [api.open_ticket()["position"] for _ in range(2)][-1]
    first = api.get(path, params={"limit": 1, "after_position": position})
    assert first.status_code == 200, first.text
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    assert_problem(api.get(path, params={"limit": 1, "cursor": _forged(cursor, value)}), 422,
                   "cursor")  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Sin\x00internet"),
        ("subject", "Sin internet\n"),
        ("subject", "\u200b\u200f\u2066"),
        ("description", "El módem\x00 parpadea"),
        ("description", "\x1b[31mrojo"),
        ("category", "fibra\x00"),
        ("external_ref", "crm-\x07"),
    ],
    ids=[
        "nul", "newline-in-one-line", "only-invisible", "nul-in-long-text", "escape",
        "category-nul", "bell",
    ],
)
def test_control_characters_and_invisible_subjects_are_422_naming_the_field(
    api: Api, auditor: Api, field, value
):
    with nothing_stored(auditor):
        assert_problem(api.post("/v1/tickets", ticket_body(**{field: value})), 422, field)


def test_multi_line_text_keeps_its_tabs_and_newlines(api: Api):
    opened = api.open_ticket(description="Línea 1\n\tLínea 2\r\n")
    assert opened["description"] == "Línea 1\n\tLínea 2\r\n"


@pytest.mark.parametrize(
    ("path", "param"),
    [("/v1/tickets", "q"), ("/v1/queue", "assignee"), ("/v1/tickets", "external_ref")],
)
def test_a_nul_in_a_query_filter_is_422_naming_it(api: Api, path, param):
    assert_problem(api.get(path, params={param: "ab\x00cd"}), 422, param)


def test_a_lone_surrogate_is_not_text_and_is_refused_as_bad_json(api: Api, auditor: Api):
    with nothing_stored(auditor):
        assert_problem(api.post("/v1/tickets", ticket_body(subject="Sin \ud800 internet")), 400)
