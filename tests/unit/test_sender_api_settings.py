"""The sender API's settings: a logo limit the HTTP body limit cannot carry is refused
at start, naming both variables."""

from __future__ import annotations

import pytest

from worker.settings import ConfigError, load_settings


def test_the_defaults_fit_together() -> None:
    settings = load_settings({})
    assert (settings.sender_api.logo_max_bytes, settings.sender_api.subscriptions_feed_days) == (
        64 * 1024,
        30,
    )


def test_a_logo_limit_above_what_the_body_limit_carries_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"POSTINO_LOGO_MAX_BYTES=200000.*HTTP_MAX_BODY_BYTES"):
        load_settings({"POSTINO_LOGO_MAX_BYTES": "200000"})
    raised = load_settings(
        {"POSTINO_LOGO_MAX_BYTES": "200000", "POSTINO_HTTP_MAX_BODY_BYTES": "300000"}
    )
    assert raised.sender_api.logo_max_bytes == 200_000
