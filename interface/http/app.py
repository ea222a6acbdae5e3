"""The Falcon application of a wired Atende: its middleware, media handling, error
handlers and routes (interface/wiring.py gives gunicorn ``get_app``)."""

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
from interface.http.operations import OPERATIONS, build_document
from interface.http.resources.agents import add_agent_routes
from interface.http.resources.audit import add_audit_routes
from interface.http.resources.customers import add_customer_routes
from interface.http.resources.docs import add_docs_routes
from interface.http.resources.events import EventFeed
from interface.http.resources.health import Health
from interface.http.resources.intake import add_intake_routes
from interface.http.resources.metrics import add_metrics_route
from interface.http.resources.queue import Queue
from interface.http.resources.reports import add_report_routes
from interface.http.resources.sla import add_sla_routes
from interface.http.resources.surveys import add_survey_routes
from interface.http.resources.tickets import add_ticket_routes
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
            Authentication(atende.tokens),
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
    app.add_route("/v1/health", Health(atende))
    add_metrics_route(app, atende)
    app.add_route("/v1/events", EventFeed(atende))
    app.add_route("/v1/queue", Queue(atende))
    add_ticket_routes(app, atende)
    add_sla_routes(app, atende)
    add_agent_routes(app, atende)
    add_intake_routes(app, atende)
    add_customer_routes(app, atende)
    add_survey_routes(app, atende)
    add_report_routes(app, atende)
    add_audit_routes(app, atende)
    add_docs_routes(app, build_document())  # built once: operations never change
    return app
