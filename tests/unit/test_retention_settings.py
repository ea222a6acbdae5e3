"""Retention settings read like every other duration setting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from infrastructure.settings import Settings


def test_retentions_default_to_a_day_of_idempotency_keys_and_400_days_of_access_log():
    settings = Settings.from_env({})
    assert settings.idempotency_retention == timedelta(hours=24)
    assert settings.access_log_retention == timedelta(days=400)


def test_retentions_accept_the_usual_duration_formats():
    settings = Settings.from_env(
        {"ATENDE_IDEMPOTENCY_RETENTION": "90m", "ATENDE_ACCESS_LOG_RETENTION": "30d"}
    )
    assert settings.idempotency_retention == timedelta(minutes=90)
    assert settings.access_log_retention == timedelta(days=30)


@pytest.mark.parametrize("name", ["ATENDE_IDEMPOTENCY_RETENTION", "ATENDE_ACCESS_LOG_RETENTION"])
@pytest.mark.parametrize("value", ["0", "forever", "-1d"])
def test_a_retention_that_is_not_a_positive_duration_is_refused_by_name(name, value):
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})
