"""A server whose log is still empty answers reads, including ``after_position=0``
(the position of "nothing yet"): no view has processed an event, and none needs to."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from tests.databases import BACKENDS
from tests.e2e.api import Api
from tests.e2e.server import running_server


@pytest.fixture(autouse=True)
def agents() -> None:
    """This module runs its own, empty server: none of the shared server's agents."""


@pytest.fixture(scope="module", params=BACKENDS)
def empty(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Api]:
    directory = tmp_path_factory.mktemp(f"empty-{request.param}")
    with running_server(request.param, directory, workers=1) as server:
        yield Api(server.base_url, server.create_token("admin", "empty-log-admin"))


@pytest.mark.parametrize("path", ["/v1/tickets", "/v1/queue", f"/v1/customers/{uuid4()}/tickets"])
def test_a_view_read_after_position_zero_on_an_empty_log_is_answered_at_once(empty, path):
    answer = empty.get(path, params={"after_position": 0})
    assert answer.status_code == 200, answer.text


def test_a_position_beyond_the_empty_log_is_still_refused_naming_after_position(empty):
    # "Empty" of tickets: issuing the admin token is the log's one event (issue 20).
    head = empty.get("/v1/events").json()["head"]
    answer = empty.get("/v1/tickets", params={"after_position": head + 1})
    assert answer.status_code == 422
    assert "after_position" in answer.text
