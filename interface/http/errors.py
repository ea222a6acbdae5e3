"""Every error leaves as application/problem+json (RFC 9457), mapped in one place."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import falcon
import psycopg
import psycopg_pool
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from marshmallow import ValidationError

from application.errors import (
    AgentNotFound,
    AgentUnavailable,
    CalendarInUse,
    CalendarNotFound,
    ConcurrentWriteConflict,
    CustomerNotFound,
    DuplicateAgent,
    DuplicateExternalRef,
    InvalidHolidaySeed,
    InvalidToken,
    InvalidWebhook,
    StaleVersion,
    SurveyNotFound,
    TicketNotFound,
    TokenNotFound,
    WebhookDeliveryNotFound,
)
from application.kb import InvalidArticle
from domain.actor import NotYourOwn
from domain.agent import AgentInactive
from domain.api_token import TokenExpired, TokenRevoked
from domain.calendar import InvalidCalendar
from domain.kb.article import ArticleNotFound, ArticleStateConflict, DuplicateSlug
from domain.kb.categories import CategoryNotFound, DuplicateCategory
from domain.sla.policy import InvalidPolicy
from domain.survey import SurveyClosed
from domain.ticket import TransitionNotAllowed
from domain.webhook import DuplicateSubscription, SubscriptionNotFound
from infrastructure.crypto import ErasedCustomerError
from infrastructure.mail import InvalidEmail
from infrastructure.storage_errors import cannot_write
from interface.http.server.json_logs import error_fields
from interface.http.server.memory_ceiling import ask_recycle

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 2
log = logging.getLogger("atende.http")


class Problem(falcon.HTTPError):
    """An HTTP error with a problem type and optional extra members (``errors``...)."""

    def __init__(
        self,
        status: str,
        slug: str,
        title: str,
        detail: str,
        /,  # so a member may be named like them (a duplicate-slug problem's ``slug``)
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(status, title=title, description=detail, headers=headers)
        self.slug = slug
        self.extra = extra

    def to_dict(self, obj_type: type = dict) -> dict[str, Any]:
        return {
            "type": f"urn:atende:problem:{self.slug}",
            "title": self.title,
            "status": self.status_code,
            "detail": self.description,
            **self.extra,
        }


def serialize_problem(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    body = error.to_dict() if isinstance(error, Problem) else _generic_problem(error)
    resp.content_type = PROBLEM_JSON
    resp.media = body
    resp.append_header("Vary", "Accept")


# Falcon's own errors (unknown route, wrong method, unparsable body...), most specific
# first, get Atende problem types like every other error.
FALCON_SLUGS: tuple[tuple[type, str], ...] = (
    (falcon.MediaMalformedError, "invalid-json"),
    (falcon.HTTPNotFound, "not-found"),
    (falcon.HTTPMethodNotAllowed, "method-not-allowed"),
    (falcon.HTTPUnsupportedMediaType, "unsupported-media-type"),
    (falcon.HTTPContentTooLarge, "body-too-large"),  # HTTPPayloadTooLarge is a subclass
    (falcon.HTTPInvalidHeader, "invalid-header"),
    (falcon.HTTPMissingHeader, "missing-header"),
    (falcon.HTTPInvalidParam, "invalid-parameter"),
    (falcon.HTTPMissingParam, "missing-parameter"),
    (falcon.HTTPBadRequest, "bad-request"),
)


def problem_slug(error: falcon.HTTPError) -> str:
    for kind, slug in FALCON_SLUGS:
        if isinstance(error, kind):
            return slug
    return f"http-{error.status_code}"


def _generic_problem(error: falcon.HTTPError) -> dict[str, Any]:
    return {
        "type": f"urn:atende:problem:{problem_slug(error)}",
        "title": error.title,
        "status": error.status_code,
        "detail": error.description or error.title,
    }


def validation_problem(errors: dict[str, Any]) -> Problem:
    flat = flatten_errors(errors)
    return Problem(
        falcon.HTTP_422,
        "validation-failed",
        "Validation failed",
        "Invalid fields: " + ", ".join(sorted(flat)),
        errors=flat,
    )


def flatten_errors(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``{"requester.email": [...]}``."""
    if isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        return {prefix or "_body": errors}
    flat: dict[str, list[str]] = {}
    items = errors.items() if isinstance(errors, dict) else enumerate(errors)
    for key, value in items:
        name = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
        for field, messages in flatten_errors(value, name).items():
            flat.setdefault(field, []).extend(messages)
    return flat


def add_error_handlers(app: falcon.App) -> None:
    # Falcon picks the most specific handler: this one only sees what no other maps.
    app.add_error_handler(Exception, _on_unhandled)
    app.add_error_handler(MemoryError, _on_out_of_memory)
    app.add_error_handler(ValidationError, _on_validation)
    app.add_error_handler(TicketNotFound, _on_not_found)
    app.add_error_handler(CalendarNotFound, _on_not_found)
    app.add_error_handler(AgentNotFound, _on_not_found)
    app.add_error_handler(SurveyNotFound, _on_not_found)
    app.add_error_handler(CustomerNotFound, _on_not_found)
    app.add_error_handler(ErasedCustomerError, _on_erased_customer)
    app.add_error_handler(SurveyClosed, _on_survey_closed)
    app.add_error_handler(DuplicateAgent, _on_duplicate_agent)
    app.add_error_handler(AgentUnavailable, _on_agent_unavailable)
    app.add_error_handler(AgentInactive, _on_agent_unavailable)
    app.add_error_handler(InvalidEmail, _on_invalid_field)
    app.add_error_handler(CalendarInUse, _on_calendar_in_use)
    app.add_error_handler(NotYourOwn, _on_not_your_own)
    app.add_error_handler(TokenNotFound, _on_not_found)
    app.add_error_handler(SubscriptionNotFound, _on_not_found)
    app.add_error_handler(WebhookDeliveryNotFound, _on_not_found)
    app.add_error_handler(InvalidWebhook, _on_invalid_field)
    app.add_error_handler(DuplicateSubscription, _on_duplicate_webhook)
    app.add_error_handler(InvalidToken, _on_invalid_field)
    app.add_error_handler(TokenRevoked, _on_token_unusable)
    app.add_error_handler(TokenExpired, _on_token_unusable)
    for invalid in (InvalidCalendar, InvalidPolicy, InvalidHolidaySeed):
        app.add_error_handler(invalid, _on_invalid_field)
    app.add_error_handler(ArticleNotFound, _on_not_found)
    app.add_error_handler(InvalidArticle, _on_invalid_field)
    app.add_error_handler(CategoryNotFound, _on_not_found)
    app.add_error_handler(DuplicateSlug, _on_duplicate_slug)
    app.add_error_handler(DuplicateCategory, _on_duplicate_category)
    app.add_error_handler(ArticleStateConflict, _on_article_state)
    app.add_error_handler(TransitionNotAllowed, _on_transition)
    app.add_error_handler(DuplicateExternalRef, _on_duplicate_ref)
    app.add_error_handler(StaleVersion, _on_stale)
    app.add_error_handler(ConcurrentWriteConflict, _on_conflict)
    for storage_error in (
        PersistenceError,
        psycopg_pool.PoolTimeout,
        psycopg.Error,
        sqlite3.Error,
    ):
        app.add_error_handler(storage_error, _on_storage_error)


def _on_unhandled(req: falcon.Request, resp: Any, ex: Exception, params: Any) -> None:
    """Log a bug as one JSON line and answer 500. Falcon's default handler would write
    a plain line to wsgi.errors with the full query string (emails in filters, search
    text); this line names the route template, never the path, query or body."""
    fields = {
        "request_id": getattr(req.context, "request_id", None),
        "method": req.method,
        "route": req.uri_template or "unmatched",
        **error_fields(ex),
    }
    log.error("unhandled error", extra={"fields": fields})
    raise Problem(
        falcon.HTTP_500,
        "internal-error",
        "Internal server error",
        "An unexpected error occurred; it was logged with this request's X-Request-Id.",
    )


def _on_validation(req: Any, resp: Any, ex: ValidationError, params: Any) -> None:
    raise validation_problem(ex.normalized_messages())


def _on_not_found(req: Any, resp: Any, ex: TicketNotFound, params: Any) -> None:
    raise Problem(falcon.HTTP_404, "not-found", "Not found", str(ex))


def _on_erased_customer(req: Any, resp: Any, ex: ErasedCustomerError, params: Any) -> None:
    raise Problem(
        falcon.HTTP_409,
        "customer-erased",
        "Customer erased",
        "This customer's personal data was erased; nothing new can be stored for them.",
    )


def _on_invalid_field(req: Any, resp: Any, ex: Any, params: Any) -> None:
    # Domain rules found a field wrong after the schema passed it (overlapping hours...).
    raise validation_problem({ex.field: [ex.message]})


def _on_duplicate_agent(req: Any, resp: Any, ex: DuplicateAgent, params: Any) -> None:
    raise Problem(
        falcon.HTTP_409, "duplicate-agent", "Duplicate agent", str(ex), agent_id=str(ex.agent_id)
    )


def _on_duplicate_webhook(req: Any, resp: Any, ex: DuplicateSubscription, params: Any) -> None:
    raise Problem(
        falcon.HTTP_409, "duplicate-webhook", "Duplicate webhook", str(ex),
        webhook_id=str(ex.existing),
    )  # fmt: skip


def _on_agent_unavailable(req: Any, resp: Any, ex: Any, params: Any) -> None:
    raise Problem(falcon.HTTP_409, "agent-unavailable", "Agent unavailable", str(ex))


def _on_not_your_own(req: Any, resp: Any, ex: NotYourOwn, params: Any) -> None:
    raise Problem(falcon.HTTP_403, "forbidden", "Forbidden", str(ex))


def _on_token_unusable(req: Any, resp: Any, ex: Any, params: Any) -> None:
    slug = "token-revoked" if isinstance(ex, TokenRevoked) else "token-expired"
    raise Problem(falcon.HTTP_409, slug, "Token not usable", str(ex))


def _on_calendar_in_use(req: Any, resp: Any, ex: CalendarInUse, params: Any) -> None:
    raise Problem(
        falcon.HTTP_409, "calendar-in-use", "Calendar in use", str(ex), policies=ex.policies
    )


def _on_survey_closed(req: Any, resp: Any, ex: SurveyClosed, params: Any) -> None:
    detail = (
        "The survey has expired." if ex.state == "expired"
        else "The ticket was reopened, so this survey takes no more answers."
    )  # fmt: skip
    raise Problem(falcon.HTTP_410, "survey-closed", "Survey closed", detail, state=ex.state)


def _on_duplicate_slug(req: Any, resp: Any, ex: DuplicateSlug, params: Any) -> None:
    raise Problem(falcon.HTTP_409, "duplicate-slug", "Duplicate slug", str(ex), slug=ex.slug)


def _on_duplicate_category(req: Any, resp: Any, ex: DuplicateCategory, params: Any) -> None:
    raise Problem(
        falcon.HTTP_409, "duplicate-category", "Duplicate category", str(ex),
        category_id=str(ex.existing),
    )  # fmt: skip


def _on_article_state(req: Any, resp: Any, ex: ArticleStateConflict, params: Any) -> None:
    raise Problem(falcon.HTTP_409, "article-state", "Article state", str(ex))


def _on_transition(req: Any, resp: Any, ex: TransitionNotAllowed, params: Any) -> None:
    raise Problem(falcon.HTTP_409, "transition-not-allowed", "Transition not allowed", str(ex))


def _on_duplicate_ref(req: Any, resp: Any, ex: DuplicateExternalRef, params: Any) -> None:
    raise Problem(
        falcon.HTTP_409,
        "duplicate-external-ref",
        "Duplicate external_ref",
        str(ex),
        ticket_id=str(ex.ticket_id),
    )


def _on_stale(req: Any, resp: Any, ex: StaleVersion, params: Any) -> None:
    raise Problem(
        falcon.HTTP_412,
        "precondition-failed",
        "Precondition failed",
        str(ex),
        current_version=ex.current,
    )


def _on_conflict(req: Any, resp: Any, ex: ConcurrentWriteConflict, params: Any) -> None:
    raise Problem(falcon.HTTP_409, "write-conflict", "Concurrent write conflict", str(ex))


# What passes by itself (a lock, a restart, a lost connection): retry shortly.
_TRANSIENT = (OperationalError, InterfaceError, psycopg_pool.PoolTimeout, psycopg.OperationalError,
              sqlite3.OperationalError)  # fmt: skip


def _on_storage_error(req: falcon.Request, resp: Any, ex: Exception, params: Any) -> None:
    reason = cannot_write(ex)
    if reason is not None:
        # For good until an operator acts: logged as an error, and no Retry-After.
        log.error("storage refuses writes: %s (%s)", reason, type(ex).__name__)
        raise Problem(
            falcon.HTTP_503,
            "storage-cannot-write",
            "The database cannot accept writes",
            f"{reason[0].upper()}{reason[1:]}; an operator must act. Retrying will not help.",
        )
    if isinstance(ex, _TRANSIENT):
        _on_unavailable(req, resp, ex, params)
    _on_unhandled(req, resp, ex, params)


def _on_out_of_memory(req: falcon.Request, resp: Any, ex: MemoryError, params: Any) -> None:
    """The worker's memory limit stopped this request (interface/http/server/memory_ceiling.py):
    a fault of this worker, not of the request, so 503, and the worker is replaced after it."""
    ask_recycle()
    log.error("out of memory", extra={"fields": {
        "request_id": getattr(req.context, "request_id", None),
        "method": req.method,
        "route": req.uri_template or "unmatched",
    }})  # fmt: skip
    raise Problem(
        falcon.HTTP_503,
        "unavailable",
        "Service unavailable",
        "This worker ran out of memory and is being replaced; retry shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _on_unavailable(req: Any, resp: Any, ex: Exception, params: Any) -> None:
    log.warning("storage unavailable: %s", ex)
    raise Problem(
        falcon.HTTP_503,
        "unavailable",
        "Service unavailable",
        "The database is unavailable or busy; retry shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
