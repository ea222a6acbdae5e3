"""``python -m interface.events > docs/events.md``: the event catalogue page."""

from interface.events.markdown import render

print(render(), end="")
