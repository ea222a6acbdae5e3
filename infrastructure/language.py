"""Language detection for ticket text, on lingua (a Rust extension).

The detector only reports lingua's best language and its confidence value; whether that is
good enough is domain.language's decision. That is why the builder's
with_minimum_relative_distance is not used: it would make lingua answer "unknown" by its
own measure, hiding the confidence the domain's threshold and the audit trail need.

Detection is restricted to the languages the deployment is configured for. Restricting it
makes short texts far more reliable (lingua need not rule out Galician or Catalan for
"No tengo internet"), at the price that a text in an unconfigured language is labelled
with the nearest configured one, sometimes confidently (English text, es/pt configured:
es at 0.70-0.81); so the threshold is no guard against languages left out.

Thread safety: one instance is shared by all threads of a gunicorn gthread worker, with
no lock. lingua documents a LanguageDetector as safe to use from several threads, and its
language models sit in a process-wide, thread-safe cache shared by all instances. In the
2.1.1 binding the detector methods take `&self` and keep the GIL while they run, so calls
from several threads do not run in parallel but do not corrupt each other either (checked:
16 threads detecting at once, cold and warm, give the serial results). Holding the GIL is
also why text is cut to _MAX_CHARS: a long email thread would stall every other thread in
the worker while it is scored, and the first lines decide the language anyway.
"""

from __future__ import annotations

from collections.abc import Sequence

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from domain.language import Detection

# About 1 ms of scoring; more text no longer changes the answer for a ticket.
_MAX_CHARS = 2000


class LinguaDetector:
    def __init__(self, languages: Sequence[str] = ("es", "pt", "en")) -> None:
        """Configure detection for ISO 639-1 codes (case and surrounding blanks ignored).

        Codes lingua has no model for, such as "gn" (Guarani) or "qu" (Quechua), are kept
        out of detection and listed in `undetectable`: tickets in them fall back to the
        requester's or the default language instead of being refused.
        """
        known: dict[Language, str] = {}
        undetectable: list[str] = []
        for raw in languages:
            code = raw.strip().lower()
            try:
                language = Language.from_iso_code_639_1(IsoCode639_1.from_str(code))
            except ValueError:
                if code not in undetectable:
                    undetectable.append(code)
                continue
            known.setdefault(language, code)
        self._codes = known
        self.languages: tuple[str, ...] = tuple(known.values())
        self.undetectable: tuple[str, ...] = tuple(undetectable)
        # Fewer than two languages leave nothing to choose between. With one, lingua's
        # confidence is all or nothing (Portuguese text scores Spanish 1.0 in an es-only
        # detector), so it says nothing the policy could weigh; with none it raises.
        self._detector: LanguageDetector | None = (
            self._build(preload=False) if len(known) >= 2 else None
        )

    def detect(self, text: str) -> Detection | None:
        """lingua's most likely configured language for `text`, with its confidence.

        None for blank text, text without letters, or too few detectable languages.
        """
        detector = self._detector
        if detector is None or not text or text.isspace():
            return None
        values = detector.compute_language_confidence_values(text[:_MAX_CHARS])
        if not values or values[0].value <= 0.0:
            # lingua scores every language 0.0 when it finds no letters ("123", "???").
            return None
        best = values[0]
        # The values are sums of floats and may stray past 1.0 in the last digit.
        return Detection(self._codes[best.language], min(max(best.value, 0.0), 1.0))

    def warm_up(self) -> None:
        """Load the language models now rather than on the first ticket (about 0.6-0.9 s).

        lingua loads models lazily, on the first text that needs them. Here a detector
        built with preloaded models replaces the lazy one, so every configured language is
        in memory whatever that first text looks like. Replacing the attribute is a single
        reference swap; a detection already running on the old detector finishes on it.
        Call it once at start-up.
        """
        if self._detector is not None:
            self._detector = self._build(preload=True)

    def _build(self, *, preload: bool) -> LanguageDetector:
        builder = LanguageDetectorBuilder.from_languages(*self._codes)
        if preload:
            builder = builder.with_preloaded_language_models()
        return builder.build()
