"""Every route of the API, and what each resource is handed of a wired Atende.

This is the one place the container is unpacked. Each resource takes only what it uses,
as keyword arguments, and the ticket application is handed under the role a resource
uses it in (application/ports.py): the log's head a read-your-writes wait compares with
(``LogHead``), what ``@idempotent`` answers a retry with (``AnswersRetries``), tickets to
read (``ReadsTickets``)... A resource that reads a view is handed that view, not
``Views``; one that reads settings is handed the values."""

from __future__ import annotations

import falcon

from application.ports import AnswersRetries, LogHead
from infrastructure.outbound.webhook_replay import replay
from infrastructure.view_status import ViewStatus
from interface.container import Atende
from interface.http.kb_usage import HelpCentreUsage
from interface.http.operations import build_document
from interface.http.resources.agents import add_agent_routes
from interface.http.resources.audit import add_audit_routes
from interface.http.resources.customers import add_customer_routes
from interface.http.resources.docs import add_docs_routes
from interface.http.resources.events import EventFeed
from interface.http.resources.health import Health
from interface.http.resources.intake import add_intake_routes
from interface.http.resources.kb import add_kb_routes
from interface.http.resources.me import add_me_routes
from interface.http.resources.metrics import add_metrics_route
from interface.http.resources.queue import Queue
from interface.http.resources.reports import add_report_routes
from interface.http.resources.sla import add_sla_routes
from interface.http.resources.surveys import add_survey_routes
from interface.http.resources.tickets import add_ticket_routes
from interface.http.resources.tokens import add_token_routes
from interface.http.resources.webhooks import add_webhook_routes


def add_routes(app: falcon.App, atende: Atende) -> None:
    settings, tickets, views, access_log = (
        atende.settings, atende.tickets, atende.views, atende.access_log
    )  # fmt: skip
    log: LogHead = tickets
    retries: AnswersRetries = tickets
    view_status = ViewStatus(log, atende.followed, atende.view_failures)
    app.add_route(
        "/v1/health",
        Health(
            database=atende.db,
            write_probe=atende.write_probe,
            heartbeats=atende.heartbeats,
            view_status=view_status,
            max_lag=settings.health_max_lag,
            max_heartbeat_age=settings.health_max_heartbeat_age,
        ),
    )
    add_metrics_route(
        app,
        tokens=atende.tokens,
        scrape_token=settings.metrics_token,
        view_status=view_status,
        log=log,
        sla_view=views.sla,
    )
    app.add_route("/v1/events", EventFeed(feed=tickets, access_log=access_log))
    app.add_route("/v1/queue", Queue(queue=views.queue, log=log, access_log=access_log))
    add_ticket_routes(
        app,
        opener=tickets,
        tickets=tickets,
        commands=atende.ticket_commands,
        customers=tickets.customers,
        ticket_list=views.ticket_list,
        audit=atende.audit,
        log=log,
        retries=retries,
        access_log=access_log,
        email_records=atende.email_records if settings.smtp else None,
    )
    add_sla_routes(
        app,
        tickets=tickets,
        timekeeper=tickets.sla,
        sla_config=atende.sla_config,
        sla_view=views.sla,
        log=log,
    )
    add_agent_routes(
        app,
        agents=tickets.agents,
        routing=views.routing,
        log=log,
        retries=retries,
        aggregates=tickets,
    )
    add_intake_routes(
        app,
        intake=atende.intake,
        max_email_bytes=settings.max_email_bytes,
        retries=retries,
        email_records=atende.email_records,
    )
    add_customer_routes(app, ticket_list=views.ticket_list, log=log, access_log=access_log)
    add_survey_routes(
        app,
        surveys=tickets.surveys,
        tickets=tickets,
        aggregates=tickets,
        retries=retries,
        access_log=access_log,
    )
    add_report_routes(app, reports=views.reports, agents=tickets.agents, log=log)
    add_audit_routes(
        app,
        audit=atende.audit,
        access_log=access_log,
        eraser=atende.eraser,
        ticket_list=views.ticket_list,
        log=log,
        retries=retries,
    )
    add_token_routes(app, tokens=atende.tokens, retries=retries)
    add_webhook_routes(
        app,
        webhooks=atende.webhooks,
        deliveries=atende.webhook_deliveries,
        replay=lambda subscription, after: replay(
            tickets, atende.webhook_deliveries, subscription, after, atende.webhooks.clock()
        ),
    )
    add_me_routes(app, agents=tickets.agents, routing=views.routing, log=log)
    usage = HelpCentreUsage(atende.kb.record_usage)
    usage.flush_every(settings.kb_usage_interval.total_seconds())
    add_kb_routes(
        app, kb=atende.kb, view=views.kb, languages=settings.languages, tickets=tickets,
        usage=usage,
    )
    add_docs_routes(app, build_document())  # built once: operations never change
