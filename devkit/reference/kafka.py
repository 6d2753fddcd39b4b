"""The Kafka contract page, rendered from the checked-in AsyncAPI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devkit.reference.markdown import BANNER, ROOT, code, schema_section, table, type_text

SOURCE = Path("schemas/generated/asyncapi.json")


def _message(doc: dict[str, Any], channel: dict[str, Any]) -> dict[str, Any]:
    ref = next(iter(channel["messages"].values()))["$ref"]
    return dict(doc["components"]["messages"][ref.rsplit("/", 1)[-1]])


def _who(doc: dict[str, Any], channel_id: str) -> tuple[str, str]:
    """Whether Postino sends to / receives from the channel (AsyncAPI operations)."""
    actions = {
        op["action"]
        for op in doc["operations"].values()
        if op["channel"]["$ref"] == f"#/channels/{channel_id}"
    }
    return ("yes" if "send" in actions else "", "yes" if "receive" in actions else "")


def _channels(doc: dict[str, Any]) -> str:
    rows = []
    for channel_id, channel in doc["channels"].items():
        if channel_id.endswith("_dlq"):
            continue
        message = _message(doc, channel)
        key = message["bindings"]["kafka"]["key"].get("description", "")
        writes, reads = _who(doc, channel_id)
        rows.append(
            (
                code(channel["address"]),
                key,
                type_text(message["payload"]),
                writes,
                reads,
                channel.get("description", ""),
            )
        )
    headers = ("topic", "key", "value", "Postino writes", "Postino reads", "about")
    return table(headers, rows)


def render() -> str:
    doc = json.loads((ROOT / SOURCE).read_text())
    schemas = doc["components"]["schemas"]
    dlq = [c["address"] for i, c in doc["channels"].items() if i.endswith("_dlq")]
    parts = [
        BANNER.format(source=str(SOURCE)),
        "# Kafka contract\n",
        f"AsyncAPI {doc['asyncapi']}, contract version {doc['info']['version']}"
        " (checked in as `schemas/generated/asyncapi.json`, with one JSON Schema per topic"
        " value beside it). " + doc["info"].get("description", "") + "\n",
        "## Topics\n",
        _channels(doc),
        "## Dead-letter topics\n",
        "Each consumed topic has a DLQ: " + ", ".join(code(a) for a in dlq) + "."
        " A dead letter keeps the original key and value bytes; these headers say why"
        " and where it came from:\n",
        table(
            ("header", "meaning"),
            (
                (code(name), spec.get("description", ""))
                for name, spec in schemas["DeadLetterHeaders"]["properties"].items()
            ),
        ),
        "## Value schemas\n",
    ]
    parts += [
        schema_section(name, schemas[name])
        for name in sorted(schemas)
        if name != "DeadLetterHeaders"
    ]
    return "\n".join(parts).rstrip() + "\n"
