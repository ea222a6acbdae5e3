"""Control characters out of what a channel delivered, before it becomes events.

The JSON boundary refuses control characters (interface.http.schemas), but an email is taken
as it comes: its encoded words can decode to NUL or escape sequences in a subject or a
sender's name, and a mail is never refused for that. So intake drops them here: C0 and
C1 controls, DEL and lone surrogates (Unicode categories Cc and Cs). One-line values
(subjects, names, message ids, file names) turn tabs and line breaks into spaces; a
message's text keeps them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from domain.customer import Contact

LINE_BREAKS = "\t\n\r"
# Unicode categories Cc (C0, DEL, C1) and Cs (surrogates), but for the line breaks,
# found in one pass in C. A message's text has line breaks, so it is never printable,
# and looking up each character's category in Python took 0.1 ms for an ordinary email
# (tests/unit/test_inbound_text.py holds this to the categories over every code point).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_BREAKS_TO_SPACES = str.maketrans(LINE_BREAKS, "   ")


def multi_line(text: str) -> str:
    """``text`` without control characters other than tab, newline and return."""
    if text.isprintable():  # the common case, checked in C
        return text
    return _CONTROLS.sub("", text)


def one_line(text: str) -> str:
    """``text`` without control characters, its tabs and line breaks made spaces."""
    if text.isprintable():
        return text
    return _CONTROLS.sub("", text.translate(_BREAKS_TO_SPACES)).strip()


def optional_line(text: str | None) -> str | None:
    """``one_line``, None when nothing is left."""
    return (one_line(text) or None) if text is not None else None


def clean_contact(contact: Contact) -> Contact:
    """The contact's fields on one line each; a name left empty falls back to the
    contact's address, as a nameless sender's does."""
    email, phone = optional_line(contact.email), optional_line(contact.phone)
    return replace(
        contact,
        name=one_line(contact.name) or email or phone or "customer",
        email=email,
        phone=phone,
        external_id=optional_line(contact.external_id),
        handle=optional_line(contact.handle),
    )


def clean_attachment(attachment: dict[str, Any]) -> dict[str, Any]:
    filename = attachment.get("filename")
    if not isinstance(filename, str):
        return attachment
    return {**attachment, "filename": one_line(filename) or "attachment"}
