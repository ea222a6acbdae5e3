"""Bad request bodies through the real server (transport, size, type, and the fields of
POST /v1/tickets): each is refused as application/problem+json and stores nothing."""

from __future__ import annotations

import json

import pytest

from tests.e2e.api import Api, ticket_body
from tests.e2e.problems import (
    ONE_SHOT,
    KiB64,
    MiB,
    assert_problem,
    nothing_stored,
    padded_to,
    post_raw,
)

# 400: not JSON


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"not json",
        b"{'subject': 'x'}",
        b'{"subject": "x",}',
        b'{"subject": }',
        b'{"subject": "x"} trailing',
        b"\x00",
    ],
    ids=[
        "unclosed",
        "bare-words",
        "single-quotes",
        "trailing-comma",
        "missing-value",
        "trailing-garbage",
        "nul-byte",
    ],
)
def test_a_body_that_is_not_json_is_400_and_stores_nothing(api: Api, auditor: Api, ticket, raw):
    with nothing_stored(auditor, ticket):
        assert_problem(post_raw(api, "/v1/tickets", raw), 400)
        assert_problem(post_raw(api, f"/v1/tickets/{ticket}/messages", raw), 400)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"subject": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
    ids=["arrays", "objects", "inside-a-field"],
)
def test_deeply_nested_json_is_400_not_500(api: Api, auditor: Api, ticket, raw):
    with nothing_stored(auditor, ticket):
        assert_problem(post_raw(api, "/v1/tickets", raw), 400)
        assert_problem(post_raw(api, f"/v1/tickets/{ticket}/tags", raw), 400)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"subject": "\xff\xfe"}',
        b'{"subject": "caf\xe9"}',
        b'{"subject": "\xc0\xaf"}',
        b'{"subject": "\xed\xa0\x80"}',
        b'{"subject": "\xe2\x82"}',
    ],
    ids=["ff-fe", "latin-1", "overlong", "encoded-surrogate", "truncated-sequence"],
)
def test_a_body_that_is_not_utf8_is_400(api: Api, auditor: Api, raw):
    with nothing_stored(auditor):
        assert_problem(post_raw(api, "/v1/tickets", raw), 400)


@pytest.mark.parametrize("field", ["subject", "description"])
def test_a_lone_surrogate_escape_in_text_is_refused_as_bad_input_not_a_500(
    api: Api, auditor: Api, field
):
    # Valid JSON syntax, but "\ud800" is not a Unicode scalar value: it cannot be
    # encoded as UTF-8, so it can be neither measured, encrypted nor stored.
    raw = json.dumps(ticket_body(**{field: "PLACEHOLDER"})).replace("PLACEHOLDER", "\\ud800")
    with nothing_stored(auditor):
        response = post_raw(api, "/v1/tickets", raw.encode())
        assert response.status_code in (400, 422), response.text
        assert_problem(response, response.status_code)


def test_a_lone_surrogate_escape_in_a_command_is_refused_as_bad_input_not_a_500(
    api: Api, auditor: Api, ticket
):
    with nothing_stored(auditor, ticket):
        response = post_raw(api, f"/v1/tickets/{ticket}/assign", b'{"agent_id": "\\ud800"}')
        assert response.status_code in (400, 422), response.text
        assert_problem(response, response.status_code)


# 413 and 415: size and content type


def test_a_list_of_more_than_a_thousand_items_is_422_naming_it_and_stores_nothing(
    api: Api, auditor: Api, ticket
):
    # Validation would build an error for each item (250,000 of them: 120 MB); the body
    # is refused before, naming the list.
    with nothing_stored(auditor, ticket):
        body = ticket_body(tags=[0] * 300_000)
        problem = assert_problem(api.post("/v1/tickets", body, headers=ONE_SHOT), 422, "tags")
        assert problem["errors"]["tags"] == ["At most 1000 items in a list; this one has 300000."]
        nested = {"requester": {"name": "Ana", "email": "ana@example.com", "x": [[]] * 1001}}
        response = api.post("/v1/tickets", ticket_body(**nested), headers=ONE_SHOT)
        assert_problem(response, 422, "requester.x")


def test_a_body_of_more_than_ten_thousand_objects_is_413_and_stores_nothing(
    api: Api, auditor: Api, ticket
):
    objects = [[{}] * 1000 for _ in range(11)]  # no list over its bound: the count stops it
    with nothing_stored(auditor, ticket):
        response = api.post("/v1/tickets", ticket_body(tags=objects), headers=ONE_SHOT)
        problem = assert_problem(response, 413)
        assert "at most 10000 objects" in problem["detail"]


def test_a_list_of_a_thousand_items_is_only_as_wrong_as_its_schema_says(api: Api, auditor: Api):
    with nothing_stored(auditor):
        response = api.post("/v1/tickets", ticket_body(tags=["a"] * 1000), headers=ONE_SHOT)
        assert_problem(response, 422, "tags")  # the schema's bound (20 tags), not ours



def test_a_body_over_one_mib_is_413_and_stores_nothing(api: Api, auditor: Api, ticket):
    raw = padded_to(ticket_body(), MiB + 1)
    with nothing_stored(auditor, ticket):
        assert_problem(post_raw(api, "/v1/tickets", raw, **ONE_SHOT), 413)
        assert_problem(post_raw(api, f"/v1/tickets/{ticket}/tags", raw, **ONE_SHOT), 413)


def test_a_description_bigger_than_one_mib_is_413(api: Api, auditor: Api):
    body = ticket_body(description="a" * MiB)
    with nothing_stored(auditor):
        assert_problem(api.post("/v1/tickets", body, headers=ONE_SHOT), 413)


def test_a_chunked_body_over_one_mib_is_413_too(api: Api, auditor: Api):
    raw = padded_to(ticket_body(), MiB + 1)
    chunks = (raw[i : i + 64 * 1024] for i in range(0, len(raw), 64 * 1024))
    with nothing_stored(auditor):
        # A generator makes requests send Transfer-Encoding: chunked, no Content-Length.
        assert_problem(post_raw(api, "/v1/tickets", chunks, **ONE_SHOT), 413)


def test_a_chunked_body_is_validated_like_any_other(api: Api, auditor: Api, resolved_ticket):
    chunks = iter([b'{"force": ', b"true}"])
    with nothing_stored(auditor, resolved_ticket):
        response = post_raw(api, f"/v1/tickets/{resolved_ticket}/close", chunks, **ONE_SHOT)
        assert_problem(response, 422, "force")


def test_a_body_of_exactly_one_mib_is_accepted(api: Api):
    response = post_raw(api, "/v1/tickets", padded_to(ticket_body(), MiB))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("text/plain", json.dumps(ticket_body())),
        ("application/x-www-form-urlencoded", "subject=x&description=y&channel=email"),
        ("multipart/form-data; boundary=xyz", "--xyz--\r\n"),
        ("application/xml", "<ticket/>"),
    ],
    ids=["text-plain", "form-urlencoded", "multipart", "xml"],
)
def test_a_body_that_is_not_declared_json_is_415(api: Api, auditor: Api, ticket, content_type, raw):
    with nothing_stored(auditor, ticket):
        assert_problem(post_raw(api, "/v1/tickets", raw, content_type), 415)
        assert_problem(
            post_raw(api, f"/v1/tickets/{ticket}/priority", '{"priority": "low"}', content_type),
            415,
        )


# 422: validation of POST /v1/tickets


@pytest.mark.parametrize("field", ["subject", "description", "requester", "channel"])
def test_a_ticket_without_a_required_field_is_422_naming_it(api: Api, auditor: Api, field):
    body = ticket_body()
    del body[field]
    with nothing_stored(auditor):
        doc = assert_problem(api.post("/v1/tickets", body), 422, field)
    assert set(doc["errors"]) == {field}


def test_a_requester_without_any_contact_is_422_naming_requester(api: Api, auditor: Api):
    with nothing_stored(auditor):
        doc = assert_problem(
            api.post("/v1/tickets", ticket_body(requester={"name": "Ana"})), 422, "requester"
        )
    assert set(doc["errors"]) == {"requester"}


def test_a_requester_without_a_name_is_422_naming_requester_name(api: Api, auditor: Api):
    with nothing_stored(auditor):
        assert_problem(
            api.post("/v1/tickets", ticket_body(requester={"email": "ana@example.com"})),
            422,
            "requester.name",
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channel", "fax"),
        ("channel", "EMAIL"),
        ("channel", ""),
        ("priority", "critical"),
        ("priority", "HIGH"),
        ("priority", ""),
    ],
)
def test_an_unknown_channel_or_priority_is_422(api: Api, auditor: Api, field, value):
    with nothing_stored(auditor):
        assert_problem(api.post("/v1/tickets", ticket_body(**{field: value})), 422, field)


@pytest.mark.parametrize(
    "subject",
    ["", " ", "   \t\n ", "\u00a0\u3000", "a" * 201, "ñ" * 201],
    ids=["empty", "one-space", "whitespace-only", "unicode-spaces", "201-ascii", "201-non-ascii"],
)
def test_a_subject_that_is_blank_or_over_200_characters_is_422(api: Api, auditor: Api, subject):
    with nothing_stored(auditor):
        assert_problem(api.post("/v1/tickets", ticket_body(subject=subject)), 422, "subject")


@pytest.mark.parametrize("subject", ["x", "a" * 200, "ñ" * 200], ids=["1", "200", "200-non-ascii"])
def test_a_subject_of_up_to_200_characters_is_accepted(api: Api, subject):
    assert api.open_ticket(subject=subject)["subject"] == subject


@pytest.mark.parametrize(
    "description",
    [
        "a" * (KiB64 + 1),
        "é" * (KiB64 // 2 + 1),
        "€" * (KiB64 // 3 + 1),
        "😀" * (KiB64 // 4) + "a",
        "",
        "  \n ",
    ],
    ids=["ascii-64k+1", "2-byte-chars", "3-byte-chars", "4-byte-chars-plus-1", "empty", "blank"],
)
def test_a_description_over_64_kib_of_utf8_or_blank_is_422(api: Api, auditor: Api, description):
    with nothing_stored(auditor):
        assert_problem(
            api.post("/v1/tickets", ticket_body(description=description)), 422, "description"
        )


@pytest.mark.parametrize(
    "description",
    ["a" * KiB64, "é" * (KiB64 // 2), "€" * (KiB64 // 3) + "a", "😀" * (KiB64 // 4)],
    ids=["ascii", "2-byte-chars", "3-byte-chars", "4-byte-chars"],
)
def test_a_description_of_exactly_64_kib_of_utf8_is_accepted(api: Api, description):
    assert len(description.encode()) == KiB64
    tid = api.open_ticket(description=description)["id"]
    assert api.get(f"/v1/tickets/{tid}").json()["description"] == description


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"nickname": "Ana"}, "nickname"),
        ({"Subject": "case matters"}, "Subject"),
        (
            {"requester": {"name": "Ana", "email": "ana@example.com", "nickname": "A"}},
            "requester.nickname",
        ),
        (
            {"requester": {"name": "Ana", "email": "ana@example.com", "address": {"city": "X"}}},
            "requester.address",
        ),
    ],
    ids=["top-level", "wrong-case", "inside-requester", "object-inside-requester"],
)
def test_an_unknown_field_is_422_naming_it(api: Api, auditor: Api, overrides, field):
    with nothing_stored(auditor):
        doc = assert_problem(api.post("/v1/tickets", ticket_body(**overrides)), 422, field)
    assert set(doc["errors"]) == {field}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", 42),
        ("subject", None),
        ("subject", ["a"]),
        ("description", 1.5),
        ("tags", "wifi"),
        ("tags", {"wifi": True}),
        ("tags", [1]),
        ("requester", "Ana"),
        ("channel", 1),
        ("priority", None),
        ("language", 5),
    ],
    ids=[
        "subject-number",
        "subject-null",
        "subject-list",
        "description-float",
        "tags-string",
        "tags-object",
        "tags-number-item",
        "requester-string",
        "channel-number",
        "priority-null",
        "language-number",
    ],
)
def test_a_field_of_the_wrong_type_is_422_naming_it(api: Api, auditor: Api, field, value):
    with nothing_stored(auditor):
        doc = assert_problem(api.post("/v1/tickets", ticket_body(**{field: value})), 422)
    assert any(name == field or name.startswith(f"{field}.") for name in doc["errors"]), doc


@pytest.mark.parametrize(
    "body", [[ticket_body()], "a ticket", 42, None], ids=["list", "string", "number", "null"]
)
def test_a_json_body_that_is_not_an_object_is_422(api: Api, auditor: Api, body):
    raw = json.dumps(body).encode()
    with nothing_stored(auditor):
        assert_problem(post_raw(api, "/v1/tickets", raw), 422)


@pytest.mark.parametrize(
    "language",
    ["english", "pt_BR", "e", "12", "en-", "-en", "en--US", "en US", "", "português"],
)
def test_a_language_that_is_not_bcp47_is_422(api: Api, auditor: Api, language):
    with nothing_stored(auditor):
        assert_problem(api.post("/v1/tickets", ticket_body(language=language)), 422, "language")


@pytest.mark.parametrize("language", ["pt", "pt-BR", "es-419", "zh-Hant-TW", "de-CH-1996"])
def test_a_bcp47_language_is_accepted(api: Api, language):
    assert api.open_ticket(language=language)["language"] == language


@pytest.mark.parametrize(
    "tags",
    [["ok", ""], ["has space"], ["-leading-dash"], ["a" * 51], [f"t{i}" for i in range(21)]],
    ids=["empty-tag", "space", "leading-dash", "51-chars", "21-tags"],
)
def test_invalid_tags_are_422_naming_tags(api: Api, auditor: Api, tags):
    with nothing_stored(auditor):
        doc = assert_problem(api.post("/v1/tickets", ticket_body(tags=tags)), 422)
    assert any(name == "tags" or name.startswith("tags.") for name in doc["errors"]), doc


@pytest.mark.parametrize(
    "requester",
    [
        {"name": "Ana", "email": "not-an-email"},
        {"name": "Ana", "phone": "call me"},
        {"name": "Ana", "email": ""},
        {"name": "Ana", "external_id": "   "},
    ],
    ids=["bad-email", "bad-phone", "empty-email", "blank-external-id"],
)
def test_an_invalid_contact_is_422_naming_the_requester(api: Api, auditor: Api, requester):
    with nothing_stored(auditor):
        doc = assert_problem(api.post("/v1/tickets", ticket_body(requester=requester)), 422)
    assert all(name.startswith("requester") for name in doc["errors"]), doc
