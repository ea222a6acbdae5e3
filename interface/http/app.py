"""The Falcon application of a wired Atende: its middleware, media handling, error
handlers and routes (interface/http/routes.py; interface/wiring.py gives gunicorn
``get_app``)."""

from __future__ import annotations

import falcon
import falcon.media

from interface.container import Atende
from interface.http.errors import PROBLEM_JSON, add_error_handlers, serialize_problem
from interface.http.middleware.auth import Authentication
from interface.http.middleware.media import BodyLimit, BoundedJSONHandler
from interface.http.middleware.metrics import HttpMetrics
from interface.http.middleware.query_params import QueryParams
from interface.http.middleware.rate_limit import RateLimit
from interface.http.middleware.request_id import RequestId
from interface.http.operations import OPERATIONS
from interface.http.routes import add_routes
from interface.http.server.json_logs import AccessLogContext


def create_app(atende: Atende) -> falcon.App:
    limit = atende.settings.max_body_bytes
    bigger = {"/v1/intake/email": atende.settings.max_email_bytes}
    settings = atende.settings
    app = falcon.App(
        middleware=[
            RequestId(),  # first, so even requests refused early carry an id
            AccessLogContext(),
            HttpMetrics(),
            BodyLimit(limit, bigger),
            Authentication(atende.tokens, settings.auth_failure_limit),
            RateLimit(settings.rate_limit, settings.public_rate_limit),  # needs the principal
            # After the token checks: a stranger learns no parameter names.
            QueryParams(OPERATIONS),
        ]
    )
    json_handler = BoundedJSONHandler(limit)
    # JSON only: form and multipart bodies get 415 rather than a second parser.
    app.req_options.media_handlers = falcon.media.Handlers({falcon.MEDIA_JSON: json_handler})
    app.resp_options.media_handlers = falcon.media.Handlers(
        {falcon.MEDIA_JSON: json_handler, PROBLEM_JSON: json_handler}
    )
    app.req_options.default_media_type = falcon.MEDIA_JSON
    app.set_error_serializer(serialize_problem)
    add_error_handlers(app)
    add_routes(app, atende)
    return app


def get_app() -> falcon.App:
    """The WSGI entry earlier releases named (``interface.http.app:get_app()``), kept for
    gunicorn command lines written against it; interface/wiring.py builds the app."""
    from interface.wiring import get_app as wired_app  # wiring imports this module

    return wired_app()
