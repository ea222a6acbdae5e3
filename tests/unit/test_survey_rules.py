"""The Survey aggregate alone: issuing, rating and re-rating inside the window, expiry,
voiding by a reopen, the link's token and the question's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from domain.actor import SYSTEM, Actor
from domain.personal import Personal
from domain.survey import CUSTOMER, QUESTIONS, Survey, SurveyClosed, token_hash

TOKEN = "the-token-in-the-link"
EXPIRES_AT = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
BEFORE_EXPIRY = EXPIRES_AT - timedelta(days=3)
TICKET_ID = UUID(int=7)
CUSTOMER_ID = UUID(int=8)


def issue(*, language: str | None = "es", survey_id: UUID | None = None) -> Survey:
    """A freshly issued survey, with its Issued event still pending."""
    return Survey.issue(
        survey_id or uuid4(),
        ticket_id=TICKET_ID,
        customer_id=CUSTOMER_ID,
        token_hash=token_hash(TOKEN),
        expires_at=EXPIRES_AT,
        language=language,
        agent_id="agent-1",
        channel="email",
        category="billing",
        actor=SYSTEM,
    )


def issued(**kwargs) -> Survey:
    """An issued survey whose Issued event has been collected (as if saved)."""
    survey = issue(**kwargs)
    survey.collect_events()
    return survey


def rated(rating: int, comment: str | None = None) -> Survey:
    survey = issued()
    assert survey.rate(rating, comment, BEFORE_EXPIRY) is True
    survey.collect_events()
    return survey


# Issuing


def test_issuing_records_one_issued_event_under_the_chosen_id_with_what_it_asks_about() -> None:
    survey_id = uuid4()
    survey = issue(survey_id=survey_id)
    (event,) = survey.collect_events()
    assert isinstance(event, Survey.Issued)
    assert event.originator_id == survey_id == survey.id
    assert event.originator_version == 1
    assert (event.ticket_id, event.customer_id) == (TICKET_ID, CUSTOMER_ID)
    assert (event.agent_id, event.channel, event.language, event.category) == (
        "agent-1",
        "email",
        "es",
        "billing",
    )
    assert event.expires_at == EXPIRES_AT
    assert event.actor == SYSTEM


def test_the_issued_event_stores_the_tokens_hash_and_never_the_token() -> None:
    (event,) = issue().collect_events()
    assert event.token_hash == token_hash(TOKEN)
    assert TOKEN not in vars(event).values()


def test_a_new_survey_is_open_and_unrated() -> None:
    survey = issued()
    assert survey.state(BEFORE_EXPIRY) == "open"
    assert (survey.rating, survey.comment, survey.rated_at, survey.voided_at) == (
        None,
        None,
        None,
        None,
    )


# State


def test_a_survey_expires_at_exactly_its_expiry_instant() -> None:
    survey = issued()
    assert survey.state(EXPIRES_AT - timedelta(microseconds=1)) == "open"
    assert survey.state(EXPIRES_AT) == "expired"
    assert survey.state(EXPIRES_AT + timedelta(days=30)) == "expired"


def test_a_rated_survey_reads_rated_until_it_expires() -> None:
    survey = rated(4)
    assert survey.state(BEFORE_EXPIRY) == "rated"
    assert survey.state(EXPIRES_AT) == "expired"


def test_a_voided_survey_reads_voided_before_and_after_its_expiry() -> None:
    survey = issued()
    survey.void("ticket reopened")
    assert survey.state(BEFORE_EXPIRY) == "voided"
    assert survey.state(EXPIRES_AT + timedelta(days=1)) == "voided"


# Rating


def test_a_first_rating_records_rated_with_no_previous_rating() -> None:
    survey = issued()
    assert survey.rate(5, "quick and kind", BEFORE_EXPIRY) is True
    (event,) = survey.collect_events()
    assert isinstance(event, Survey.Rated)
    assert (event.rating, event.previous_rating) == (5, None)
    assert event.comment == Personal(CUSTOMER_ID, "quick and kind")
    assert event.actor == CUSTOMER
    assert event.originator_version == 2
    assert (survey.rating, survey.comment) == (5, Personal(CUSTOMER_ID, "quick and kind"))
    assert survey.rated_at == event.timestamp


def test_a_rating_without_a_comment_records_no_comment() -> None:
    survey = issued()
    survey.rate(3, None, BEFORE_EXPIRY)
    (event,) = survey.collect_events()
    assert (event.rating, event.comment) == (3, None)
    assert survey.comment is None


def test_the_comment_belongs_to_the_surveys_customer() -> None:
    survey = issued()
    survey.rate(2, "slow", BEFORE_EXPIRY)
    assert survey.comment is not None
    assert survey.comment.owner == CUSTOMER_ID


def test_a_second_rating_replaces_the_first_within_the_window_naming_what_it_replaces() -> None:
    survey = rated(2, "meh")
    assert survey.rate(5, "actually great", BEFORE_EXPIRY) is True
    (event,) = survey.collect_events()
    assert (event.rating, event.previous_rating) == (5, 2)
    assert event.comment == Personal(CUSTOMER_ID, "actually great")
    assert (survey.rating, survey.comment.text) == (5, "actually great")
    assert survey.state(BEFORE_EXPIRY) == "rated"


def test_the_same_answer_twice_records_nothing() -> None:
    survey = rated(4, "good")
    version = survey.version
    assert survey.rate(4, "good", BEFORE_EXPIRY) is False
    assert survey.collect_events() == []
    assert survey.version == version


def test_the_same_rating_without_a_comment_twice_records_nothing() -> None:
    survey = rated(4)
    assert survey.rate(4, None, BEFORE_EXPIRY) is False
    assert survey.collect_events() == []


def test_the_same_rating_with_a_changed_comment_is_recorded() -> None:
    survey = rated(4, "good")
    assert survey.rate(4, "good, and fast", BEFORE_EXPIRY) is True
    (event,) = survey.collect_events()
    assert (event.rating, event.previous_rating) == (4, 4)
    assert event.comment == Personal(CUSTOMER_ID, "good, and fast")


def test_dropping_the_comment_while_keeping_the_rating_is_recorded() -> None:
    survey = rated(4, "good")
    assert survey.rate(4, None, BEFORE_EXPIRY) is True
    (event,) = survey.collect_events()
    assert (event.rating, event.previous_rating, event.comment) == (4, 4, None)
    assert survey.comment is None


@pytest.mark.parametrize("rating", [1, 2, 3, 4, 5])
def test_every_rating_from_one_to_five_is_accepted(rating: int) -> None:
    survey = issued()
    assert survey.rate(rating, None, BEFORE_EXPIRY) is True
    assert survey.rating == rating


@pytest.mark.parametrize("rating", [0, 6, -1, 10])
def test_a_rating_outside_one_to_five_raises_and_records_nothing(rating: int) -> None:
    survey = issued()
    with pytest.raises(ValueError, match="must be one of 1"):
        survey.rate(rating, "x", BEFORE_EXPIRY)
    assert survey.collect_events() == []
    assert survey.rating is None


def test_an_invalid_replacement_keeps_the_first_rating() -> None:
    survey = rated(3)
    with pytest.raises(ValueError):
        survey.rate(9, None, BEFORE_EXPIRY)
    assert survey.rating == 3
    assert survey.collect_events() == []


def test_rating_an_expired_survey_raises_survey_closed_and_records_nothing() -> None:
    survey = issued()
    with pytest.raises(SurveyClosed) as raised:
        survey.rate(5, None, EXPIRES_AT)
    assert (raised.value.survey_id, raised.value.state) == (survey.id, "expired")
    assert survey.collect_events() == []
    assert survey.rating is None


def test_replacing_a_rating_after_expiry_raises_and_keeps_the_rating() -> None:
    survey = rated(2)
    with pytest.raises(SurveyClosed) as raised:
        survey.rate(5, None, EXPIRES_AT + timedelta(hours=1))
    assert raised.value.state == "expired"
    assert survey.rating == 2
    assert survey.collect_events() == []


def test_rating_a_voided_survey_raises_survey_closed_and_records_nothing() -> None:
    survey = issued()
    survey.void("ticket reopened")
    survey.collect_events()
    with pytest.raises(SurveyClosed) as raised:
        survey.rate(5, None, BEFORE_EXPIRY)
    assert raised.value.state == "voided"
    assert str(raised.value) == f"survey {survey.id} is voided"
    assert survey.collect_events() == []


def test_a_closed_survey_refuses_even_an_out_of_range_rating_as_closed() -> None:
    survey = issued()
    with pytest.raises(SurveyClosed):
        survey.rate(9, None, EXPIRES_AT)


# Voiding


def test_voiding_records_voided_with_its_reason_and_actor() -> None:
    survey = issued()
    survey.void("ticket reopened")
    (event,) = survey.collect_events()
    assert isinstance(event, Survey.Voided)
    assert (event.reason, event.actor) == ("ticket reopened", SYSTEM)
    assert survey.voided_at == event.timestamp


def test_voiding_names_the_actor_it_is_given() -> None:
    someone = Actor(id="ag", name="maria", role="agent")
    survey = issued()
    survey.void("reopened by hand", someone)
    (event,) = survey.collect_events()
    assert event.actor == someone


def test_voiding_twice_records_only_the_first() -> None:
    survey = issued()
    survey.void("ticket reopened")
    voided_at = survey.voided_at
    survey.void("ticket reopened again")
    (event,) = survey.collect_events()
    assert event.reason == "ticket reopened"
    assert survey.voided_at == voided_at


def test_voiding_a_rated_survey_keeps_the_rating_it_was_given() -> None:
    survey = rated(5, "great")
    survey.void("ticket reopened")
    assert (survey.rating, survey.comment.text) == (5, "great")
    assert survey.state(BEFORE_EXPIRY) == "voided"


# The link's token


def test_the_survey_accepts_the_token_its_hash_was_made_from() -> None:
    assert issued().accepts(TOKEN) is True


@pytest.mark.parametrize("token", ["", "the-token-in-the-lin", TOKEN + "x", TOKEN.upper()])
def test_the_survey_refuses_any_other_token(token: str) -> None:
    assert issued().accepts(token) is False


def test_the_survey_refuses_its_stored_hash_offered_as_a_token() -> None:
    assert issued().accepts(token_hash(TOKEN)) is False


# The question's language


@pytest.mark.parametrize(
    ("language", "question_language"),
    [
        ("es", "es"),
        ("pt", "pt"),
        ("en", "en"),
        ("pt-BR", "pt"),
        ("es-MX", "es"),
        ("en-GB", "en"),
        ("PT-br", "pt"),
        ("fr", "en"),
        ("de-DE", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_the_question_language_is_the_primary_subtag_or_english(
    language: str | None, question_language: str
) -> None:
    survey = issued(language=language)
    assert survey.question_language == question_language
    assert survey.question_language in QUESTIONS


def test_the_question_language_leaves_the_recorded_language_as_it_was() -> None:
    survey = issued(language="pt-BR")
    assert (survey.language, survey.question_language) == ("pt-BR", "pt")


# Replay


def test_replaying_the_recorded_events_rebuilds_the_same_survey() -> None:
    survey = issue()
    survey.rate(2, "slow", BEFORE_EXPIRY)
    survey.rate(4, "better", BEFORE_EXPIRY)
    survey.void("ticket reopened")
    events = survey.collect_events()
    assert [type(e) for e in events] == [Survey.Issued, Survey.Rated, Survey.Rated, Survey.Voided]
    assert [e.previous_rating for e in events if isinstance(e, Survey.Rated)] == [None, 2]
    replayed = None
    for e in events:
        replayed = e.mutate(replayed)
    assert replayed is not None
    assert (replayed.rating, replayed.comment, replayed.rated_at, replayed.voided_at) == (
        survey.rating,
        survey.comment,
        survey.rated_at,
        survey.voided_at,
    )
    assert replayed.version == survey.version == 4
