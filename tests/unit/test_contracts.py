"""The generated contracts: checked in and fresh, complete, internally consistent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

from schemas import export
from schemas.codecs import TOPIC_VALUE_TYPES
from schemas.topics import CONSUMED, Topic
from worker.cli import contracts


def _asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((contracts.GENERATED / export.ASYNCAPI_FILE).read_text())
    return document


def test_the_checked_in_contract_files_are_up_to_date() -> None:
    assert contracts.stale() == [], "stale: run `make schemas` and commit schemas/generated/"


def test_there_is_one_json_schema_per_topic_value() -> None:
    for topic in TOPIC_VALUE_TYPES:
        schema = json.loads((contracts.GENERATED / export.schema_file(topic)).read_text())
        assert schema["$schema"] == export.JSON_SCHEMA_DIALECT
        assert schema["title"] == f"{topic.value} value"


def test_every_topic_and_every_dlq_is_a_channel_of_the_asyncapi_document() -> None:
    document = _asyncapi()
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {t.value for t in Topic} <= addresses
    assert {t.dlq() for t in CONSUMED} <= addresses


def test_every_message_declares_its_kafka_key_and_dlq_messages_their_headers() -> None:
    document = _asyncapi()
    for name, message in document["components"]["messages"].items():
        assert message["bindings"]["kafka"]["key"]["type"] == "string", name
        if name.startswith("DeadLetter_"):
            headers = _resolve(document, message["headers"]["$ref"])
            assert set(headers["required"]) == set(export.DLQ_HEADERS)


def test_every_operation_points_at_an_existing_channel_and_message() -> None:
    document = _asyncapi()
    actions = {op["action"] for op in document["operations"].values()}
    assert actions == {"send", "receive"}
    for ref in _refs(document):
        assert _resolve(document, ref) is not None, ref


def test_a_fresh_folder_is_written_then_reported_up_to_date(tmp_path: Path) -> None:
    (tmp_path / "gone.schema.json").write_text("{}")
    written = contracts.write(tmp_path)
    assert "gone.schema.json" in written
    assert export.ASYNCAPI_FILE in written
    assert contracts.stale(tmp_path) == []
    assert not (tmp_path / "gone.schema.json").exists()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node.get(part.replace("~1", "/").replace("~0", "~"))
        if node is None:
            return None
    return node


def test_the_asyncapi_document_validates_against_the_official_asyncapi_schema() -> None:
    official = json.loads((Path(__file__).parents[1] / "data/asyncapi/3.0.0.json").read_text())
    assert official["$id"] == "http://asyncapi.com/definitions/3.0.0/asyncapi.json"

    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in Draft7Validator(official).iter_errors(_asyncapi())
    ]

    assert errors == []
