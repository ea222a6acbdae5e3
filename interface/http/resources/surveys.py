"""Surveys over HTTP: the customer's link (no bearer token: the token in the path is
the credential) and a ticket's survey for the integrator who sends the link."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import falcon

from application.ports import AnswersRetries, LoadsAggregates, ReadsTickets
from application.surveys import SurveyDesk
from domain.survey import QUESTIONS, RATINGS, SCALES, Survey, SurveyClosed
from interface.http.hooks import validate_body
from interface.http.idempotency import idempotent
from interface.http.middleware.auth import TICKET_READERS, allow
from interface.http.openapi.operation import PUBLIC, Operation, Operations
from interface.http.personal_reads import RecordsReads, logs_read, survey_page
from interface.http.schemas.surveys import SurveyAnswerIn, SurveyPageOut, TicketSurveyOut

# Who may see a survey's link (and so could answer it): those who send it.
LINK_READERS = ("admin", "integrator")


def _now() -> datetime:
    return datetime.now(UTC)


def customer_view(tickets: ReadsTickets, survey: Survey, now: datetime) -> dict[str, Any]:
    """What the customer's page shows: the ticket's subject and the question, in the
    ticket's language."""
    state = survey.state(now)
    if state in ("expired", "voided"):
        raise SurveyClosed(survey.id, state)
    ticket = tickets.get_ticket(survey.ticket_id)
    language = survey.question_language
    return {
        "ticket": {"number": tickets.number_of(ticket.id), "subject": ticket.subject.text},
        "language": language,
        "question": QUESTIONS[language],
        "scale": {"min": RATINGS.start, "max": RATINGS.stop - 1, "labels": SCALES[language]},
        "status": state,
        "rating": survey.rating,
        "comment": None if survey.comment is None else survey.comment.text,
        "expires_at": survey.expires_at.isoformat(),
    }


def replay_rating(resource: Any, req: Any, resp: falcon.Response, previous: Any, position: int,
                  **params: Any) -> None:  # fmt: skip
    """An answer's first response again: the survey at the version it wrote."""
    survey = resource.aggregates.repository.get(previous.resource_id, version=previous.version)
    resp.media = {**customer_view(resource.tickets, survey, _now()), "position": position}
    _private(resp)


class SurveyLinkResource:
    """``GET`` shows the survey and never records anything (mail scanners follow links);
    ``POST {rating, comment?}`` answers it, or replaces the answer inside the window."""

    public = True
    schema = SurveyAnswerIn()

    def __init__(
        self,
        *,
        surveys: SurveyDesk,
        tickets: ReadsTickets,
        aggregates: LoadsAggregates,
        retries: AnswersRetries,
        access_log: RecordsReads,
    ):
        self.surveys = surveys
        self.tickets = tickets  # the page shows the ticket's number and subject
        self.aggregates = aggregates  # replay_rating
        self.retries = retries
        self.access_log = access_log

    @logs_read(survey_page)
    def on_get(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        survey = self.surveys.by_token(token)
        req.context.survey_ticket_id = survey.ticket_id
        resp.media = customer_view(self.tickets, survey, _now())
        _private(resp)

    @falcon.before(validate_body)
    @idempotent(replay=replay_rating)
    def on_post(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        body = req.context.body
        survey, position = self.surveys.rate(
            token, body["rating"], body.get("comment"), _now(), req.context.claim
        )
        resp.media = {**customer_view(self.tickets, survey, _now()), "position": position}
        _private(resp)


def _private(resp: falcon.Response) -> None:
    # The page is the customer's: no shared cache keeps it, no search engine lists it.
    resp.cache_control = ["no-store"]
    resp.set_header("X-Robots-Tag", "noindex")


class TicketSurveyResource:
    """``GET /v1/tickets/{id}/survey``: the latest resolution's survey, its state and
    rating; with its link for those who send it."""

    def __init__(self, *, surveys: SurveyDesk, tickets: ReadsTickets):
        self.surveys = surveys
        self.tickets = tickets

    @falcon.before(allow(*TICKET_READERS, "analyst"))
    def on_get(self, req: falcon.Request, resp: falcon.Response, ticket_id: UUID) -> None:
        survey = self.surveys.of_ticket(self.tickets.get_ticket(ticket_id))
        if survey is None:
            raise falcon.HTTPNotFound(
                title="Not found", description=f"ticket {ticket_id} has issued no survey"
            )
        document: dict[str, Any] = {
            "id": str(survey.id),
            "ticket_id": str(ticket_id),
            "status": survey.state(_now()),
            "issued_at": survey.created_on.isoformat(),
            "expires_at": survey.expires_at.isoformat(),
            "language": survey.question_language,
            "agent_id": survey.agent_id,
            "rating": survey.rating,
            "rated_at": None if survey.rated_at is None else survey.rated_at.isoformat(),
        }
        if req.context.actor.role in LINK_READERS:
            link = self.surveys.link_for(survey.id)
            document |= {"token": link.token, "link": link.path}
        resp.media = document


OPERATIONS: Operations = {
    ("/v1/tickets/{ticket_id:uuid}/survey", "get"): Operation(
        "The latest resolution's survey (with its link for those who send it)",
        "surveys",
        (*TICKET_READERS, "analyst"),
        TicketSurveyOut,
        errors=(404,),
        description=f"token and link are shown to {', '.join(LINK_READERS)} only.",
    ),
    ("/v1/surveys/{token}", "get"): Operation(
        "The customer's survey page (the token in the link is the credential)",
        "surveys",
        PUBLIC,
        SurveyPageOut,
        errors=(404, 410),
    ),
    ("/v1/surveys/{token}", "post"): Operation(
        "Answer a survey, or change the answer inside its window",
        "surveys",
        PUBLIC,
        SurveyPageOut,
        body=SurveyAnswerIn,
        errors=(404, 409, 410),
        idempotent=True,
    ),
}


def add_survey_routes(
    app: falcon.App,
    *,
    surveys: SurveyDesk,
    tickets: ReadsTickets,
    aggregates: LoadsAggregates,
    retries: AnswersRetries,
    access_log: RecordsReads,
) -> None:
    app.add_route(
        "/v1/surveys/{token}",
        SurveyLinkResource(
            surveys=surveys,
            tickets=tickets,
            aggregates=aggregates,
            retries=retries,
            access_log=access_log,
        ),
    )
    app.add_route(
        "/v1/tickets/{ticket_id:uuid}/survey",
        TicketSurveyResource(surveys=surveys, tickets=tickets),
    )
