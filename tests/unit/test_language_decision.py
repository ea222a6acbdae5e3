"""The language policy: given wins, then a confident detection, then the requester, then
the deployment default; a detection that fell short is still recorded."""

from __future__ import annotations

import pytest

from domain.language import (
    DEFAULT_CONFIDENCE_THRESHOLD,
    Detection,
    LanguageDecision,
    decide_language,
)


def decide(
    given: str | None = None,
    detection: Detection | None = None,
    requester: str | None = None,
    default: str | None = "es",
) -> LanguageDecision:
    return decide_language(
        given,
        detection,
        threshold=0.7,
        requester_language=requester,
        default=default,
    )


def test_a_given_language_wins_over_a_confident_detection_and_records_no_detection():
    decision = decide("pt", Detection("es", 0.95), requester="en")
    assert decision == LanguageDecision("pt", "given")


def test_a_detection_at_or_above_the_threshold_is_used():
    assert decide(None, Detection("pt", 0.88), requester="es") == LanguageDecision(
        "pt", "detected", "pt", 0.88
    )
    assert decide(None, Detection("pt", 0.7)).source == "detected"


def test_a_detection_below_the_threshold_falls_back_to_the_requesters_language():
    decision = decide(None, Detection("pt", 0.486), requester="es")
    assert decision == LanguageDecision("es", "requester", "pt", 0.486)


def test_a_detection_below_the_threshold_without_a_requester_language_gets_the_default():
    decision = decide(None, Detection("pt", 0.486), requester=None, default="es")
    assert decision == LanguageDecision("es", "default", "pt", 0.486)


def test_no_detection_and_no_requester_language_gets_the_default():
    assert decide(None, None, default="es") == LanguageDecision("es", "default")


def test_no_detection_falls_back_to_the_requesters_language():
    assert decide(None, None, requester="pt") == LanguageDecision("pt", "requester")


def test_without_a_default_the_language_stays_unknown():
    assert decide(None, Detection("en", 0.4), default=None) == LanguageDecision(
        None, "default", "en", 0.4
    )


def test_blank_strings_count_as_absent():
    decision = decide("  ", Detection("pt", 0.5), requester="", default="es")
    assert decision == LanguageDecision("es", "default", "pt", 0.5)


def test_a_threshold_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError):
        decide_language(None, None, threshold=70, requester_language=None, default="es")


def test_the_recommended_threshold_is_a_probability():
    assert 0.5 < DEFAULT_CONFIDENCE_THRESHOLD < 1.0


def test_event_data_records_the_source_and_the_detection_that_fell_short():
    decision = decide(None, Detection("pt", 0.48591839692709743), requester="es")
    assert decision.as_event_data() == {
        "source": "requester",
        "detected": "pt",
        "confidence": 0.486,
    }


def test_event_data_of_a_given_language_has_no_detection():
    assert decide("en").as_event_data() == {"source": "given", "detected": None, "confidence": None}
