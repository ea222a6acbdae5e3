"""The API's own documentation, public: ``GET /v1/openapi.json`` and ``GET /docs``, a
Swagger UI page whose assets come from the swagger-ui-py package (no CDN: it works offline).

The document is built by create_app from every resource module's operations
(interface/http/operations.py) and handed in: this module cannot collect them itself, as
it is one of those modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import falcon
import swagger_ui

from interface.http.openapi.operation import PUBLIC, Operation, Operations

ASSETS_ROUTE = "/docs/assets"
ASSETS_DIRECTORY = Path(swagger_ui.__file__).parent / "static"
PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Atende API</title>
  <link rel="stylesheet" href="{ASSETS_ROUTE}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{ASSETS_ROUTE}/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{ASSETS_ROUTE}/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{url: "/v1/openapi.json", dom_id: "#swagger-ui",
                                  deepLinking: true}});
  </script>
</body>
</html>
"""


class OpenApiDocument:
    public = True

    def __init__(self, document: dict[str, Any]):
        self.document = document

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.document


class DocsPage:
    public = True

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = PAGE


OPERATIONS: Operations = {
    ("/docs", "get"): Operation(
        "This documentation, as a browsable page",
        "documentation",
        PUBLIC,
        raw_response={"text/html": {"type": "string"}},
    ),
    ("/v1/openapi.json", "get"): Operation(
        "This OpenAPI document",
        "documentation",
        PUBLIC,
        raw_response={"application/json": {"type": "object"}},
    ),
}


def add_docs_routes(app: falcon.App, document: dict[str, Any]) -> None:
    app.add_route("/v1/openapi.json", OpenApiDocument(document))
    app.add_route("/docs", DocsPage())
    # Static routes skip resource middleware, so the assets need no token either.
    app.add_static_route(ASSETS_ROUTE, str(ASSETS_DIRECTORY))
