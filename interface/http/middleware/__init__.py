"""Falcon middleware: what runs around every request, before and after its resource
(request ids, metrics, body limits, authentication, rate limits, query parameters)."""
