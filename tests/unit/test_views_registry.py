"""The typed views of a process (infrastructure/views/registry.py) and the registry
every loop over views reads agree: a view added to one only fails here."""

from __future__ import annotations

from dataclasses import fields

from infrastructure.views.registry import VIEWS, Views


def test_every_registered_view_has_its_typed_field_and_no_field_is_unregistered():
    assert [f.name for f in fields(Views)] == list(VIEWS)


def test_the_views_read_by_name_are_the_typed_fields():
    made = Views(**{name: object() for name in VIEWS})  # type: ignore[arg-type]
    assert dict(made.items()) == {name: getattr(made, name) for name in VIEWS}
    assert made["queue"] is made.queue and len(made) == len(VIEWS)
