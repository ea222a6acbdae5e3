"""Which language a ticket is handled in when it may arrive without one.

The policy lives here, apart from the detector, so the threshold and the fallbacks are
plain rules that can be tested without loading language models. The detector only reports
its best guess with a confidence; deciding whether that guess is good enough is ours.

Whatever is decided, the detector's guess is kept on the decision, even when it lost to a
fallback: an auditor looking at a ticket routed to the wrong queue can see what the
detector said and why it was not used.
"""

from __future__ import annotations

from dataclasses import dataclass

# Chosen against lingua 2.1.1 restricted to es/pt/en: one-line helpdesk sentences score
# 0.77-0.97 for the right language, while texts that are the same in Spanish and
# Portuguese ("internet lento", "no funciona", "técnico") score 0.49-0.64.
DEFAULT_CONFIDENCE_THRESHOLD = 0.7

GIVEN = "given"
DETECTED = "detected"
REQUESTER = "requester"
DEFAULT = "default"


@dataclass(frozen=True)
class Detection:
    """A detector's best guess for a text."""

    language: str  # ISO 639-1 code, lower-case, e.g. "es"
    confidence: float  # 0..1


@dataclass(frozen=True)
class LanguageDecision:
    """The language a ticket gets, where it came from, and what the detector said."""

    language: str | None
    source: str  # GIVEN | DETECTED | REQUESTER | DEFAULT
    detected: str | None = None
    confidence: float | None = None

    def as_event_data(self) -> dict:
        """What an event records about the decision (the language itself travels apart).

        Confidence is rounded: the detector's floats differ in their last digits from
        one run to the next, and three decimals is all an auditor needs.
        """
        return {
            "source": self.source,
            "detected": self.detected,
            "confidence": None if self.confidence is None else round(self.confidence, 3),
        }


def decide_language(
    given: str | None,
    detection: Detection | None,
    *,
    threshold: float,
    requester_language: str | None,
    default: str | None,
) -> LanguageDecision:
    """Pick a ticket's language.

    A language the caller gave always wins and no detection is recorded (it was not
    needed). Otherwise a detection at or above the threshold is used. Below it, or with
    no detection at all (blank text, no configured language the detector knows), the
    requester's known language is used, else the deployment default; a detection that
    fell short is still recorded. Blank strings count as absent.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold!r}")
    if _present(given):
        return LanguageDecision(language=given, source=GIVEN)
    detected = detection.language if detection else None
    confidence = detection.confidence if detection else None
    if detection is not None and detection.confidence >= threshold:
        return LanguageDecision(detection.language, DETECTED, detected, confidence)
    if _present(requester_language):
        return LanguageDecision(requester_language, REQUESTER, detected, confidence)
    return LanguageDecision(default if _present(default) else None, DEFAULT, detected, confidence)


def _present(code: str | None) -> bool:
    return code is not None and code.strip() != ""
