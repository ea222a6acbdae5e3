"""Read-your-writes for views: ``after_position=N`` waits, bounded, until a view has
processed position N (the ``position`` a command returned)."""

from __future__ import annotations

from typing import Any

import falcon

from infrastructure.bootstrap import Atende
from interface.http.errors import Problem, validation_problem

WAIT_SECONDS = 5.0


def wait_for_position(atende: Atende, view: Any, position: int) -> None:
    head = atende.tickets.head_position()
    if position > head:
        raise validation_problem(
            {"after_position": [f"Beyond the newest event ({head}); nothing to wait for."]}
        )
    try:
        view.wait(atende.tickets.name, position, timeout=WAIT_SECONDS)
    except TimeoutError:
        raise Problem(
            falcon.HTTP_503,
            "view-behind",
            "View is behind",
            f"The view has not reached position {position} within {WAIT_SECONDS:.0f} s.",
            headers={"Retry-After": "1"},
        ) from None


def wait_if_asked(atende: Atende, view: Any, query: dict[str, Any]) -> None:
    """A loaded query with ``after_position`` waits for the view to reach it."""
    if "after_position" in query:
        wait_for_position(atende, view, query["after_position"])
