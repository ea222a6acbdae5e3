"""An email is never refused for control characters (its encoded words can decode to NUL
or escape sequences), so intake drops them before they reach events: the ticket's
subject, requester name and text hold none, and every view shows the ticket."""

from __future__ import annotations

from tests.e2e.api import Api
from tests.e2e.test_intake import address, post_email, received, ticket


def raw_email(sender: str) -> bytes:
    return (
        f"From: =?utf-8?q?Ana=00_Souza=07?= <{sender}>\r\n"
        "To: soporte@atende.example\r\n"
        "Subject: =?utf-8?q?Sin=00_internet=1B[31m?=\r\n"
        f"Message-ID: <{sender}>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "El m\x00dem\tparpadea\x1b.\r\n"
    ).encode()


def test_control_characters_in_an_email_never_reach_the_ticket(api: Api):
    sender = address()
    doc = received(post_email(api, raw_email(sender)), 201, "opened")
    opened = ticket(api, doc["id"])
    assert opened["subject"] == "Sin internet[31m"
    assert opened["requester"]["name"] == "Ana Souza"
    assert opened["description"] == "El mdem\tparpadea."
    listed = api.get(
        "/v1/tickets", params={"requester_email": sender, "after_position": doc["position"]}
    )
    assert listed.status_code == 200, listed.text
    assert [item["subject"] for item in listed.json()["items"]] == ["Sin internet[31m"]
