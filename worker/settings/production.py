"""What the production profile refuses, beyond each value's own parse."""

from __future__ import annotations

from typing import TYPE_CHECKING

from worker.settings.declare import ConfigError

if TYPE_CHECKING:
    from worker.settings.root import Settings

#: A production secret needs at least this many characters.
MIN_SECRET_LENGTH = 32


def _weak(secret: str) -> bool:
    return len(secret) < MIN_SECRET_LENGTH or secret.strip().lower().startswith("change-me")


def check_production(settings: Settings) -> None:
    """The production profile refuses weak settings, naming the variable (never its value)."""
    if settings.profile != "production":
        return
    secrets = (
        ("ADMIN_TOKEN", settings.admin_token),
        ("ID_SECRET", settings.id_secret),
        ("LOG_MASK_SECRET", settings.log_mask_secret),
    )
    for name, value in secrets:
        if value is not None and _weak(value):
            raise ConfigError(
                f"POSTINO_{name}: too weak for the production profile (at least"
                f" {MIN_SECRET_LENGTH} characters, not a change-me placeholder)"
            )
    if settings.callbacks.allow_loopback:
        raise ConfigError(
            "POSTINO_CALLBACK_ALLOW_LOOPBACK=true: refused in the production profile"
            " (http and loopback callbacks are for development)"
        )
