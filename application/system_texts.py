"""What Atende itself writes to customers, in their language (issue 22, item 2): the
reasons the follow-up sweep records (a ticket closed or resolved by itself), and the
emails it sends (a survey invitation, a pending reminder, an auto-close notice).

Each text is a ``string.Template`` per language (es, pt, en built in); the ticket's
language picks one (its primary subtag: pt-BR reads pt), then the deployment's default,
then English. An operator overrides any of them, or adds a language, with a file
``<name>.<language>.txt`` in ATENDE_TEMPLATES_DIR; an email's first line is
``Subject: ...``. Files are read and checked once, at start: an unknown name or a
placeholder the text does not take stops the server with the file's name.

string.Template rather than a template engine: these are a few sentences with a handful
of values, written by operators who should not be able to run code in them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from string import Template

FALLBACK = "en"

# Each text, the values it takes, and its built-in wording per language.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "reason_pending_resolved": ("duration",),
    "reason_auto_closed": ("duration",),
    "survey_invitation": ("number", "subject", "link"),
    "pending_reminder": ("number", "subject"),
    "auto_close_notice": ("number", "subject"),
}

BUILT_IN: dict[str, dict[str, str]] = {
    "reason_pending_resolved": {
        "es": "sin respuesta del cliente durante $duration",
        "pt": "sem resposta do cliente durante $duration",
        "en": "no reply from the customer for $duration",
    },
    "reason_auto_closed": {
        "es": "resuelto hace $duration",
        "pt": "resolvido há $duration",
        "en": "resolved for $duration",
    },
    "survey_invitation": {
        "es": "Subject: [#$number] ¿Cómo lo hicimos?\n"
        "Hola:\n\nSu solicitud «$subject» quedó resuelta. ¿Nos cuenta cómo le fue? "
        "Es una sola pregunta:\n\n$link\n\nGracias.",
        "pt": "Subject: [#$number] Como foi o nosso atendimento?\n"
        "Olá,\n\nSua solicitação “$subject” foi resolvida. Pode nos contar como foi? "
        "É uma pergunta só:\n\n$link\n\nObrigado.",
        "en": "Subject: [#$number] How did we do?\n"
        "Hello,\n\nYour request “$subject” was resolved. Would you tell us how it went? "
        "It is one question:\n\n$link\n\nThank you.",
    },
    "pending_reminder": {
        "es": "Subject: [#$number] Esperamos su respuesta\n"
        "Hola:\n\nSeguimos esperando su respuesta sobre «$subject». Responda este correo "
        "para continuar.",
        "pt": "Subject: [#$number] Aguardamos sua resposta\n"
        "Olá,\n\nAinda aguardamos sua resposta sobre “$subject”. Responda este e-mail "
        "para continuar.",
        "en": "Subject: [#$number] We are waiting for your reply\n"
        "Hello,\n\nWe are still waiting for your reply about “$subject”. Answer this email "
        "to carry on.",
    },
    "auto_close_notice": {
        "es": "Subject: [#$number] Solicitud cerrada\n"
        "Hola:\n\nCerramos su solicitud «$subject». Si necesita algo más, responda este "
        "correo y abriremos una nueva.",
        "pt": "Subject: [#$number] Solicitação encerrada\n"
        "Olá,\n\nEncerramos sua solicitação “$subject”. Se precisar de algo mais, responda "
        "este e-mail e abriremos uma nova.",
        "en": "Subject: [#$number] Request closed\n"
        "Hello,\n\nWe closed your request “$subject”. If you need anything else, answer "
        "this email and we will open a new one.",
    },
}

UNITS: dict[str, dict[str, tuple[str, str]]] = {
    "es": {"day": ("día", "días"), "hour": ("hora", "horas"),
           "minute": ("minuto", "minutos"), "second": ("segundo", "segundos")},
    "pt": {"day": ("dia", "dias"), "hour": ("hora", "horas"),
           "minute": ("minuto", "minutos"), "second": ("segundo", "segundos")},
    "en": {"day": ("day", "days"), "hour": ("hour", "hours"),
           "minute": ("minute", "minutes"), "second": ("second", "seconds")},
}  # fmt: skip
_SECONDS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


@dataclass(frozen=True)
class Email:
    subject: str
    body: str


class SystemTexts:
    def __init__(self, default_language: str | None = None, folder: Path | None = None):
        self.default_language = default_language
        self.texts: dict[str, dict[str, Template]] = {
            name: {lang: Template(text) for lang, text in wordings.items()}
            for name, wordings in BUILT_IN.items()
        }
        if folder is not None:
            self._override(folder)

    def language_for(self, language: str | None, name: str = "reason_auto_closed") -> str:
        """The language a text is written in for a ticket in ``language``."""
        wordings = self.texts[name]
        for candidate in (language, self.default_language):
            primary = (candidate or "").split("-")[0].lower()
            if primary in wordings:
                return primary
        return FALLBACK

    def render(self, name: str, language: str | None, **values: object) -> str:
        chosen = self.language_for(language, name)
        return self.texts[name][chosen].substitute(values)

    def email(self, name: str, language: str | None, **values: object) -> Email:
        subject_line, _, body = self.render(name, language, **values).partition("\n")
        return Email(subject_line.removeprefix("Subject:").strip(), body.strip() + "\n")

    def duration(self, after: timedelta, language: str | None) -> str:
        """The largest unit that divides it exactly: 4 días, 36 horas, 90 segundos."""
        units = UNITS.get(self.language_for(language).split("-")[0]) or UNITS[FALLBACK]
        seconds = int(after.total_seconds())
        for unit, size in _SECONDS:
            if seconds >= size and seconds % size == 0:
                count = seconds // size
                one, many = units[unit]
                return f"{count} {one if count == 1 else many}"
        return f"{seconds} {units['second'][1]}"

    def reason(self, name: str, language: str | None, after: timedelta) -> str:
        return self.render(name, language, duration=self.duration(after, language))

    def _override(self, folder: Path) -> None:
        if not folder.is_dir():
            raise ValueError(f"ATENDE_TEMPLATES_DIR {folder} is not a directory")
        for path in sorted(folder.glob("*.txt")):
            name, _, language = path.stem.rpartition(".")
            if name not in PLACEHOLDERS or not language:
                raise ValueError(
                    f"{path}: not a template Atende knows (<name>.<language>.txt, names: "
                    f"{', '.join(PLACEHOLDERS)})"
                )
            template = Template(path.read_text(encoding="utf-8"))
            taken = set(template.get_identifiers())
            unknown = taken - set(PLACEHOLDERS[name])
            if unknown or not template.is_valid():
                raise ValueError(
                    f"{path}: takes only ${', $'.join(PLACEHOLDERS[name])} "
                    f"(found {', '.join(sorted(unknown)) or 'a stray $'})"
                )
            if "Subject:" in BUILT_IN[name]["en"] and not template.template.startswith(
                "Subject:"
            ):
                raise ValueError(f"{path}: an email's first line is 'Subject: ...'")
            self.texts[name][language.lower()] = template
