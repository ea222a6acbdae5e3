"""Where gunicorn's configuration lived before it moved to interface/http/server/ (issue 18).
Kept so an operator's own ``gunicorn --config python:interface.http.gunicorn_conf`` line
goes on working: every setting and hook is the one ``atende serve`` uses."""

from interface.http.server.gunicorn_conf import *  # noqa: F403
