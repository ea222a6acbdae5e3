"""The API's own documentation, public: ``GET /v1/openapi.json`` and ``GET /docs``, a
Swagger UI page whose assets come from the swagger-ui-py package (no CDN: it works offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import falcon
import swagger_ui

from interface.http.openapi_document import build_document

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

    def __init__(self) -> None:
        # Built once: the table does not change while the process runs.
        self.document: dict[str, Any] = build_document()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.document


class DocsPage:
    public = True

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = PAGE


def add_docs_routes(app: falcon.App) -> None:
    app.add_route("/v1/openapi.json", OpenApiDocument())
    app.add_route("/docs", DocsPage())
    # Static routes skip resource middleware, so the assets need no token either.
    app.add_static_route(ASSETS_ROUTE, str(ASSETS_DIRECTORY))
