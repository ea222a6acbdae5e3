"""The problem catalogue names every problem type the code can answer with, at the
status it answers it, and nothing the code never raises."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import falcon

from interface.http.errors import FALCON_SLUGS
from interface.http.openapi.problems import BY_SLUG, PROBLEM_TYPES, render_markdown
from interface.http.operations import build_document

INTERFACE = Path(__file__).parents[2] / "interface"
# Raised with a slug computed at the raise site (interface/http/errors.py, tokens).
COMPUTED = {"token-revoked": 409, "token-expired": 409}


def raised_problems() -> dict[str, set[int]]:
    """slug -> statuses, for every ``Problem(falcon.HTTP_xxx, "slug", ...)`` in interface/."""
    found: dict[str, set[int]] = {}
    for path in INTERFACE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and _named(node.func) == "Problem"):
                continue
            status, slug = node.args[0], node.args[1]
            if isinstance(slug, ast.Constant):
                code = int(getattr(falcon, ast.unparse(status).split(".")[-1]).split()[0])
                found.setdefault(slug.value, set()).add(code)
    return found


def _named(func: ast.expr) -> str | None:
    return getattr(func, "id", None) or getattr(func, "attr", None)


def status_of(kind: type[falcon.HTTPError]) -> int:
    """The status a Falcon error class answers with (made with placeholder arguments)."""
    required = [
        p for p in inspect.signature(kind).parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]  # fmt: skip
    return kind(*["x"] * len(required)).status_code


def test_every_problem_type_the_code_raises_is_catalogued_at_its_status() -> None:
    raised = {**raised_problems(), **{s: {c} for s, c in COMPUTED.items()}}
    assert len(raised) > 20
    wrong = {
        slug: statuses
        for slug, statuses in raised.items()
        if slug not in BY_SLUG or statuses != {BY_SLUG[slug].status}
    }
    assert not wrong, f"Catalogue these in interface/http/openapi/problems.py: {wrong}"


def test_falcon_s_own_errors_are_catalogued_at_their_status() -> None:
    for kind, slug in FALCON_SLUGS:
        assert slug in BY_SLUG, slug
        assert BY_SLUG[slug].status == status_of(kind), slug


def test_the_catalogue_names_nothing_the_code_never_answers() -> None:
    answered = set(raised_problems()) | set(COMPUTED) | {slug for _, slug in FALCON_SLUGS}
    assert {p.slug for p in PROBLEM_TYPES} - answered == set()


def test_each_problem_type_is_a_component_with_its_members_required() -> None:
    schemas = build_document()["components"]["schemas"]
    stale = schemas["PreconditionFailedProblem"]
    assert stale["properties"]["type"]["const"] == "urn:atende:problem:precondition-failed"
    assert stale["properties"]["status"]["const"] == 412
    assert "current_version" in stale["properties"]
    assert "current_version" not in stale["required"]  # not when If-Match is no ETag
    assert "errors" in schemas["ValidationFailedProblem"]["required"]
    for problem in PROBLEM_TYPES:
        assert problem.component in schemas


def test_each_error_answer_lists_the_problem_types_of_its_status() -> None:
    for methods in build_document()["paths"].values():
        for operation in methods.values():
            for status, answer in operation["responses"].items():
                for uri in answer.get("x-problem-types", []):
                    assert str(BY_SLUG[uri.rsplit(":", 1)[1]].status) == status


def test_only_idempotent_commands_say_they_can_answer_request_in_flight() -> None:
    paths = build_document()["paths"]
    in_flight = "urn:atende:problem:request-in-flight"
    assert in_flight in paths["/v1/tickets"]["post"]["responses"]["409"]["x-problem-types"]
    assert "409" not in paths["/v1/queue"]["get"]["responses"]


def test_the_problems_page_is_the_catalogue_s() -> None:
    page = Path(__file__).parents[2] / "docs" / "problems.md"
    assert page.read_text(encoding="utf-8") == render_markdown(), (
        "docs/problems.md is out of date: run "
        "`python -m interface.http.openapi.problems > docs/problems.md`"
    )
