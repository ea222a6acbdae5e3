"""What Atende writes to customers, in their language: every text renders in es, pt and
en; a ticket's language picks it; an operator's folder overrides or adds languages and is
refused, naming the file, when Atende could not use it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from application.system_texts import BUILT_IN, PLACEHOLDERS, SystemTexts

VALUES = {"number": 42, "subject": "Sin internet", "link": "https://help.example.com/s/x",
          "duration": "4 días"}  # fmt: skip
WORDS = {"es": "Hola", "pt": "Olá", "en": "Hello"}


@pytest.mark.parametrize("language", ["es", "pt", "en"])
@pytest.mark.parametrize("name", sorted(PLACEHOLDERS))
def test_every_text_renders_in_every_built_in_language(name: str, language: str):
    texts = SystemTexts()
    values = {k: VALUES[k] for k in PLACEHOLDERS[name]}
    if name.startswith("reason_"):
        rendered = texts.render(name, language, **values)
        assert "$" not in rendered and "4 días" in rendered
        return
    email = texts.email(name, language, **values)
    assert email.subject.startswith("[#42] ")
    assert WORDS[language] in email.body and "$" not in email.body + email.subject
    assert "Sin internet" in email.body
    if "link" in values:
        assert values["link"] in email.body


def test_the_reasons_read_in_the_tickets_language():
    texts = SystemTexts(default_language="es")
    four_days = timedelta(days=4)
    assert texts.reason("reason_auto_closed", "es", four_days) == "resuelto hace 4 días"
    assert texts.reason("reason_auto_closed", "pt-BR", four_days) == "resolvido há 4 dias"
    assert texts.reason("reason_pending_resolved", "en", timedelta(hours=36)) == (
        "no reply from the customer for 36 hours"
    )
    # A language Atende has no wording for: the deployment's default, then English.
    assert texts.reason("reason_auto_closed", "qu", timedelta(seconds=12)) == (
        "resuelto hace 12 segundos"
    )
    assert SystemTexts().reason("reason_auto_closed", "qu", timedelta(minutes=1)) == (
        "resolved for 1 minute"
    )


def test_an_operators_folder_overrides_a_wording_and_adds_a_language(tmp_path: Path):
    (tmp_path / "reason_auto_closed.es.txt").write_text("cerrado tras $duration sin novedad")
    (tmp_path / "pending_reminder.gn.txt").write_text(
        "Subject: [#$number] Ñaha'arõ\nMba'éichapa, «$subject»"
    )
    texts = SystemTexts(folder=tmp_path)
    assert texts.reason("reason_auto_closed", "es", timedelta(days=2)) == (
        "cerrado tras 2 días sin novedad"
    )
    email = texts.email("pending_reminder", "gn", number=7, subject="Internet")
    assert email.subject == "[#7] Ñaha'arõ"
    assert set(BUILT_IN["pending_reminder"]) < set(texts.texts["pending_reminder"])


@pytest.mark.parametrize(
    ("file", "text", "named"),
    [
        ("welcome.es.txt", "Hola", "not a template Atende knows"),
        ("reason_auto_closed.txt", "x $duration", "not a template Atende knows"),
        ("reason_auto_closed.es.txt", "resuelto $cuando", "takes only $duration"),
        ("reason_auto_closed.es.txt", "cuesta 5 $", "takes only $duration"),
        ("pending_reminder.es.txt", "Hola $subject", "first line is 'Subject: ...'"),
    ],
)
def test_a_template_atende_cannot_use_is_refused_naming_its_file(
    tmp_path: Path, file: str, text: str, named: str
):
    (tmp_path / file).write_text(text)
    with pytest.raises(ValueError) as refused:
        SystemTexts(folder=tmp_path)
    assert file in str(refused.value) and named in str(refused.value)
