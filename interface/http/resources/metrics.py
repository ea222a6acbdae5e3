"""``GET /metrics`` in the Prometheus text format.

Request counts and latencies are counted in each gunicorn worker (middleware/metrics.py)
and summed across them by prometheus_client's multiprocess mode (gunicorn_conf sets the
directory up); the scheduler's runs are counted the same way by the projector process
that gunicorn starts. What the database already knows (the log's head, each view's lag,
SLA breaches) is read from it at scrape time, so every worker answers the same and
nothing is lost when a process restarts.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator

import falcon
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from application.ports import LogHead
from application.tokens import ApiTokens
from infrastructure.view_status import ViewStatus
from interface.http.errors import Problem
from interface.http.middleware.auth import unauthorized
from interface.http.openapi.operation import ADMIN, Operation, Operations
from projections.sla import SlaView

log = logging.getLogger("atende.metrics")


class DatabaseCollector:
    """Gauges and counters read from the database when Prometheus scrapes."""

    def __init__(self, *, view_status: ViewStatus, log: LogHead, sla_view: SlaView):
        self.view_status = view_status
        self.log = log
        self.sla_view = sla_view

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("atende_database_up", "1 if the database answered this scrape.")
        try:
            families = [*self._log_and_views(), self._sla_breaches()]
        except Exception:  # any failure means "database down" for this scrape, and is logged
            log.warning("metrics: database unreachable", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _log_and_views(self) -> Iterator[Metric]:
        rows = self.view_status.rows()
        head = rows[0]["head"] if rows else self.log.head_position()
        appended = CounterMetricFamily(
            "atende_events_appended",
            "Events appended to the log by every process: the log's head position "
            "(on PostgreSQL a rolled-back write leaves a gap that counts too).",
        )
        appended.add_metric([], head)
        lag = GaugeMetricFamily(
            "atende_projection_lag_events",
            "Events in the log that a view has not processed yet.",
            labels=["view"],
        )
        failing = GaugeMetricFamily(
            "atende_projection_failing",
            "1 while a view cannot apply an event (it retries; see /v1/health), else 0.",
            labels=["view"],
        )
        for row in rows:
            lag.add_metric([row["view"]], row["lag"])
            failing.add_metric([row["view"]], 1 if row["failing"] else 0)
        yield from (appended, lag, failing)

    def _sla_breaches(self) -> Metric:
        breaches = CounterMetricFamily(
            "atende_sla_breaches",
            "SLA timers that breached, by metric (from the SLA view).",
            labels=["metric"],
        )
        for metric, count in self.sla_view.breach_counts().items():
            breaches.add_metric([metric], count)
        return breaches


class _ThisProcess:
    """The default registry as a collector, when there is no multiprocess directory
    (tests calling create_app directly, a lone development server)."""

    def collect(self) -> Iterator[Metric]:
        return REGISTRY.collect()


class Metrics:
    """The scrape endpoint: an admin token or the configured scrape token."""

    public = True  # it checks its own tokens: the scrape token is not an API token
    own_credentials = True  # ...but refused ones count against the address (middleware/auth.py)
    unlimited = True

    def __init__(
        self, *, tokens: ApiTokens, scrape_token: str | None, database_metrics: DatabaseCollector
    ):
        self.tokens = tokens
        self.scrape_token = scrape_token
        self.database_metrics = database_metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._authorize(req)
        registry = CollectorRegistry(auto_describe=False)
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory:
            MultiProcessCollector(registry, path=directory)
        else:
            registry.register(_ThisProcess())
        registry.register(self.database_metrics)
        resp.content_type = CONTENT_TYPE_PLAIN_0_0_4
        resp.data = generate_latest(registry)

    def _authorize(self, req: falcon.Request) -> None:
        scheme, _, token = (req.auth or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("Send Authorization: Bearer <admin or scrape token>.")
        if self.scrape_token and hmac.compare_digest(token.encode(), self.scrape_token.encode()):
            return
        actor = self.tokens.authenticate(token)
        if actor is None:
            raise unauthorized("The token is unknown, revoked or expired.")
        req.context.actor = actor
        if actor.role != "admin":
            raise Problem(
                falcon.HTTP_403,
                "forbidden",
                "Forbidden",
                f"The {actor.role} role may not read metrics; use an admin or scrape token.",
            )


OPERATIONS: Operations = {
    ("/metrics", "get"): Operation(
        "Prometheus metrics",
        "operations",
        ADMIN,
        raw_response={"text/plain": {"type": "string"}},
        description="The configured scrape token (ATENDE_METRICS_TOKEN) is accepted too.",
        rate_limited=False,
    ),
}


def add_metrics_route(
    app: falcon.App,
    *,
    tokens: ApiTokens,
    scrape_token: str | None,
    view_status: ViewStatus,
    log: LogHead,
    sla_view: SlaView,
) -> None:
    database_metrics = DatabaseCollector(view_status=view_status, log=log, sla_view=sla_view)
    app.add_route(
        "/metrics",
        Metrics(tokens=tokens, scrape_token=scrape_token, database_metrics=database_metrics),
    )
