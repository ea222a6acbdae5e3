"""Every request counted and timed, by route template (not path), for ``GET /metrics``
(resources/metrics.py), which sums the workers' counts."""

from __future__ import annotations

import time

import falcon
from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "atende_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "atende_http_request_duration_seconds",
    "Time from the first middleware to the response, by route template and method.",
    ["route", "method"],
)
UNMATCHED = "unmatched"  # one label for every path no route matches, so they cannot bloat it


class HttpMetrics:
    """Middleware that counts and times every request, by route template (not path)."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.metrics_started = time.perf_counter()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, succeeded: bool
    ) -> None:
        route = req.uri_template or UNMATCHED
        HTTP_REQUESTS.labels(route, req.method, str(resp.status_code)).inc()
        started = getattr(req.context, "metrics_started", None)
        if started is not None:
            HTTP_LATENCY.labels(route, req.method).observe(time.perf_counter() - started)
