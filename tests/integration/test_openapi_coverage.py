"""The OpenAPI document describes every route the Falcon router serves, and nothing else."""

from __future__ import annotations

import re
from collections.abc import Iterator

import falcon
import falcon.testing
import pytest
from falcon.routing.compiled import CompiledRouterNode

from interface.container import Atende
from interface.http.app import create_app
from interface.http.openapi.document import openapi_path
from interface.http.operations import OPERATIONS, build_document
from interface.wiring import bootstrap
from tests.databases import settings_for


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[falcon.App]:
    # The routes do not depend on the backend: SQLite is enough.
    url = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'atende.db'}"
    atende: Atende = bootstrap(
        settings_for(url)
    )
    yield create_app(atende)
    atende.close()


def routed_operations(app: falcon.App) -> set[tuple[str, str]]:
    """(uri template, method) for every responder a resource defines; the 405 and
    OPTIONS responders Falcon adds by itself are not the API's."""
    found: set[tuple[str, str]] = set()

    def walk(nodes: list[CompiledRouterNode]) -> None:
        for node in nodes:
            if node.resource is not None:
                for method, responder in node.method_map.items():
                    if getattr(responder, "__self__", None) is node.resource:
                        found.add((node.uri_template, method.lower()))
            walk(node.children)

    walk(app._router._roots)
    return found


def test_every_routed_operation_is_in_the_document(app: falcon.App) -> None:
    paths = build_document()["paths"]
    missing = sorted(
        f"{method.upper()} {template}"
        for template, method in routed_operations(app)
        if method not in paths.get(openapi_path(template), {})
    )
    assert not missing, (
        "Routes without an OpenAPI description; add them to OPERATIONS in their "
        f"resource module (interface/http/resources/): {missing}"
    )


def test_the_document_describes_no_route_the_router_lacks(app: falcon.App) -> None:
    assert set(OPERATIONS) <= routed_operations(app)


def test_public_routes_are_marked_as_needing_no_token(app: falcon.App) -> None:
    paths = build_document()["paths"]
    for path in ("/docs", "/v1/openapi.json", "/v1/health"):
        assert paths[path]["get"]["security"] == []
    assert "security" not in paths["/v1/tickets"]["post"]  # the document's default: bearer


def test_the_document_and_the_docs_page_with_its_assets_need_no_token(app: falcon.App) -> None:
    client = falcon.testing.TestClient(app)
    document = client.simulate_get("/v1/openapi.json")
    assert document.status_code == 200
    assert document.json["openapi"] == "3.1.0"
    page = client.simulate_get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for asset in re.findall(r'(?:href|src)="(/docs/assets/[^"]+)"', page.text):
        assert client.simulate_get(asset).status_code == 200, asset
