"""Every `POSTINO_*` variable that `worker/settings.py` reads is documented in the settings
reference, docs/reference/settings.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A name passed to an `_Env` read (`env.integer("HTTP_PORT", ...)`) or to `_delays(env, "...")`.
_READ = re.compile(r"""(?:\benv\.\w+\(|\b_delays\(\s*env,)\s*"([A-Z][A-Z0-9_]*)\"""")


def read_variables() -> set[str]:
    source = (ROOT / "worker" / "settings.py").read_text()
    return {f"POSTINO_{name}" for name in _READ.findall(source)}


def test_the_scan_finds_the_variables_of_every_section() -> None:
    found = read_variables()
    for known in (
        "POSTINO_PROFILE",
        "POSTINO_KAFKA_BOOTSTRAP",
        "POSTINO_DATABASE_URL",
        "POSTINO_HTTP_PORT",
        "POSTINO_DEFAULT_DAILY_QUOTA",
        "POSTINO_NOTIFY_RETRY_DELAYS",
        "POSTINO_CALLBACK_MAX_IN_FLIGHT_PER_SERVICE",
        "POSTINO_REMINDER_TIMEZONE",
    ):
        assert known in found


def test_every_variable_settings_reads_is_in_the_settings_reference() -> None:
    page = (ROOT / "docs" / "reference" / "settings.md").read_text()
    documented = set(re.findall(r"`(POSTINO_[A-Z0-9_]+)`", page))
    assert sorted(read_variables() - documented) == []
