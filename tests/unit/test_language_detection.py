"""Language detection on real lingua models (no mocks), on the short texts a helpdesk sees."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from domain.language import DEFAULT_CONFIDENCE_THRESHOLD
from infrastructure.language import LinguaDetector


@pytest.fixture(scope="module")
def detector() -> LinguaDetector:
    detector = LinguaDetector(("es", "pt", "en"))
    detector.warm_up()
    return detector


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("No tengo internet desde ayer", "es"),
        ("Estou sem internet desde ontem", "pt"),
        ("¿Cuándo llega el técnico?", "es"),
        ("Quando o técnico vem?", "pt"),
        ("Mi factura llegó duplicada", "es"),
        ("Minha fatura veio duplicada", "pt"),
        ("My router keeps rebooting", "en"),
    ],
)
def test_short_helpdesk_sentences_are_detected_above_the_threshold(detector, text, language):
    detection = detector.detect(text)
    assert detection is not None
    assert detection.language == language
    assert detection.confidence >= DEFAULT_CONFIDENCE_THRESHOLD


@pytest.mark.parametrize("text", ["internet lento", "no funciona", "el técnico"])
def test_texts_shared_by_spanish_and_portuguese_stay_below_the_threshold(detector, text):
    detection = detector.detect(text)
    assert detection is not None
    assert detection.language in {"es", "pt"}
    assert detection.confidence < DEFAULT_CONFIDENCE_THRESHOLD


def test_detection_is_restricted_to_the_configured_languages():
    detector = LinguaDetector(("es", "pt"))
    detection = detector.detect("My router keeps rebooting")
    assert detection is not None
    assert detection.language in {"es", "pt"}


def test_codes_lingua_does_not_know_are_ignored_and_listed_as_undetectable():
    detector = LinguaDetector(("es", "gn", "pt", "qu"))
    assert detector.languages == ("es", "pt")
    assert detector.undetectable == ("gn", "qu")
    assert detector.detect("Estou sem internet desde ontem").language == "pt"


def test_codes_are_read_regardless_of_case_and_blanks():
    assert LinguaDetector((" ES", "Pt ")).languages == ("es", "pt")


@pytest.mark.parametrize("languages", [("es",), ("es", "gn", "qu"), ("gn", "qu"), ()])
def test_fewer_than_two_detectable_languages_detect_nothing(languages):
    detector = LinguaDetector(languages)
    detector.warm_up()
    assert detector.detect("No tengo internet desde ayer") is None


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "123", "???"])
def test_blank_text_or_text_without_letters_detects_nothing(detector, text):
    assert detector.detect(text) is None


def test_a_long_text_is_judged_by_its_beginning(detector):
    detection = detector.detect("Estou sem internet desde ontem. " * 100 + "My router " * 1000)
    assert detection is not None
    assert detection.language == "pt"


def test_one_detector_shared_by_threads_gives_the_same_answers():
    detector = LinguaDetector()  # cold: threads race to load the models
    texts = ["No tengo internet desde ayer", "Minha fatura veio duplicada"] * 40
    with ThreadPoolExecutor(max_workers=8) as pool:
        languages = list(pool.map(lambda text: detector.detect(text).language, texts))
    assert languages == ["es", "pt"] * 40
