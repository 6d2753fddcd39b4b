"""The DLQ tools' pure parts: topic names, redaction, and finding a running `postino dev`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from worker.cli import dlq, endpoints
from worker.settings import ConfigError, load_settings


def test_an_operator_may_name_the_topic_or_its_dlq_with_or_without_prefix() -> None:
    ks = load_settings({"POSTINO_TOPIC_PREFIX": "prod."}).kafka
    for name in ("messages.submitted", "messages.submitted.dlq", "prod.messages.submitted.dlq"):
        assert dlq.dlq_topic(ks, name) == "prod.messages.submitted.dlq"
    with pytest.raises(ConfigError, match="not a consumed topic"):
        dlq.dlq_topic(ks, "messages.unknown")


def test_details_show_one_line_with_fiscal_codes_and_emails_masked() -> None:
    detail = (
        "CheckViolationError: row of RSSMRA80A01H501U for mario@example.org refused\n"
        "DETAIL:  Failing row contains (RSSMRA80A01H501U, Avviso personale)"
    )
    shown = dlq._detail(detail)
    assert "RSSMRA80A01H501U" not in shown
    assert "mario@example.org" not in shown
    assert "Avviso personale" not in shown
    assert shown.endswith("[1 more line(s) hidden]")


def test_the_tools_find_a_running_dev_stack_through_its_endpoints_file(tmp_path: Path) -> None:
    running = load_settings({"POSTINO_DATA_DIR": str(tmp_path)})
    running = dataclasses.replace(
        running,
        kafka=dataclasses.replace(running.kafka, bootstrap="127.0.0.1:4321"),
        database=dataclasses.replace(running.database, url="postgresql://x/postgres"),
    )
    tool = load_settings({"POSTINO_DATA_DIR": str(tmp_path)})
    with endpoints.published(running) as path:
        assert path.stat().st_mode & 0o077 == 0
        found = endpoints.resolve(tool)
    assert found.kafka.bootstrap == "127.0.0.1:4321"
    assert found.database.url == "postgresql://x/postgres"
    assert not path.exists()
    with pytest.raises(ConfigError, match="make run"):
        endpoints.resolve(tool)
    explicit = load_settings({"POSTINO_KAFKA_BOOTSTRAP": "kafka:9092"})
    assert endpoints.resolve(explicit) is explicit
