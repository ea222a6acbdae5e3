"""Projections (views) of the event log; built in issue 3."""
