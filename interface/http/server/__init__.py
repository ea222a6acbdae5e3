"""The HTTP server process: gunicorn's settings and hooks, gunicorn's own error answers,
and the JSON log lines every process writes."""
