"""Which language a new ticket is in, when the contact did not say: detected from its
text, else the customer's known language, else the deployment's default."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.language import (
    DEFAULT_CONFIDENCE_THRESHOLD,
    Detection,
    LanguageDecision,
    decide_language,
)


class LanguageDetector(Protocol):
    def detect(self, text: str) -> Detection | None: ...


@dataclass(frozen=True)
class LanguagePolicy:
    detector: LanguageDetector | None = None
    threshold: float = DEFAULT_CONFIDENCE_THRESHOLD
    default: str | None = None
    # The language of the customer's earlier tickets, when a view knows it.
    known_language: Callable[[UUID], str | None] | None = None

    def decide(self, given: str | None, text: str, customer_id: UUID) -> LanguageDecision:
        detection = None
        if not given and self.detector is not None:
            detection = self.detector.detect(text)
        requester_language = None
        confident = detection is not None and detection.confidence >= self.threshold
        if not given and not confident and self.known_language is not None:
            requester_language = self.known_language(customer_id)
        return decide_language(
            given,
            detection,
            threshold=self.threshold,
            requester_language=requester_language,
            default=self.default,
        )
