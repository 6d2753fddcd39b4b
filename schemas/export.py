"""JSON Schema per topic value and the AsyncAPI 3.0 document, generated from the structs.

`rendered()` is the single source of the files checked in under `schemas/generated/`
(`postino contracts --write` writes them, a test fails when they are stale). The
output is deterministic: same structs, same bytes.

The schemas accept unknown properties, as every consumer does.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import msgspec

from schemas import events, messages
from schemas.codecs import TOPIC_VALUE_TYPES
from schemas.patterns import FISCAL_CODE_PATTERN, RPT_ID_PATTERN
from schemas.topics import CALLBACK_RETRY_TIERS, CONSUMED, NOTIFICATION_RETRY_TIERS, Topic

CONTRACT_VERSION = "1.0.0"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_FILE = "asyncapi.json"
_COMPONENT_REF = "#/components/schemas/{name}"
_KAFKA_BINDING = "0.5.0"

#: Headers every DLQ record carries, beside the original record's own headers.
DLQ_HEADERS: dict[str, str] = {
    "postino-error-code": "Stable snake_case reason (not_json, invalid_message, ...)",
    "postino-error-detail": "Human-readable detail, at most 2000 bytes",
    "postino-original-topic": "Full name (prefix included) of the topic the record came from",
    "postino-original-partition": "Its partition, decimal",
    "postino-original-offset": "Its offset, decimal",
    "postino-original-timestamp": "Its timestamp, milliseconds since the epoch, decimal",
}

_FISCAL_CODE_KEY = {"type": "string", "pattern": FISCAL_CODE_PATTERN, "description": "fiscal code"}
_MESSAGE_ID_KEY = {"type": "string", "description": "message id"}
_RPT_ID_KEY = {
    "type": "string",
    "pattern": RPT_ID_PATTERN,
    "description": "rpt_id: payee organisation fiscal code + notice number",
}
#: The record key of each topic family (retry tiers share their family's key).
_KEYS: dict[Topic, dict[str, str]] = {
    Topic.SUBMITTED: _FISCAL_CODE_KEY,
    Topic.STATUS: _MESSAGE_ID_KEY,
    Topic.NOTIFICATIONS: _FISCAL_CODE_KEY,
    Topic.PAYMENTS: _RPT_ID_KEY,
}
_DESCRIPTIONS: dict[Topic, str] = {
    Topic.SUBMITTED: "Messages accepted for delivery: written by the ingress and by upstream"
    " systems, read by deliver. Ordered per citizen.",
    Topic.STATUS: "Every status change of a message (processed, rejected, failed, per-channel"
    " notification, read, paid), each with a `seq` that grows per message. Ordered per message.",
    Topic.NOTIFICATIONS: "One push or email to send, per channel.",
    Topic.PAYMENTS: "pagoPA business events: a payment notice was paid.",
}
#: Who produces to a topic besides Postino itself (then Postino does not send it).
_EXTERNAL_PRODUCERS: dict[Topic, str] = {Topic.PAYMENTS: "pagoPA"}


def family(topic: Topic) -> Topic:
    """The topic whose value and key a retry tier shares (itself for the others)."""
    if topic in NOTIFICATION_RETRY_TIERS:
        return Topic.NOTIFICATIONS
    if topic in CALLBACK_RETRY_TIERS:
        return Topic.STATUS
    return topic


def value_type(topic: Topic) -> Any:
    return TOPIC_VALUE_TYPES.get(topic, TOPIC_VALUE_TYPES.get(family(topic)))


def value_name(value: Any) -> str:
    """The name of a value type: the struct's, or the module alias of a union."""
    for module in (messages, events):
        for name, candidate in vars(module).items():
            if candidate is value and not name.startswith("_"):
                return name
    return str(value.__name__)


def _tidy(node: Any) -> Any:
    """Docstrings as descriptions, dedented."""
    if isinstance(node, dict):
        return {
            k: inspect.cleandoc(v) if k == "description" and isinstance(v, str) else _tidy(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    return node


def topic_schema(topic: Topic) -> dict[str, Any]:
    """A standalone JSON Schema (2020-12) of the value of `topic`."""
    schema = _tidy(msgspec.json.schema(TOPIC_VALUE_TYPES[topic]))
    key = _KEYS[family(topic)]["description"]
    head = {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": f"{topic.value} value",
        "description": f"{_DESCRIPTIONS.get(topic, '')} Key: {key}.",
    }
    return {**head, **schema}


def schema_file(topic: Topic) -> str:
    return f"{topic.value}.schema.json"


def _channel_id(address: str) -> str:
    return address.replace(".", "_")


def _asyncapi_schema(node: Any) -> Any:
    """msgspec writes a tagged union's `discriminator` the OpenAPI way (an object with
    `propertyName` and `mapping`); an AsyncAPI Schema Object wants the property name, and
    that property defined and required at the union itself."""
    if isinstance(node, list):
        return [_asyncapi_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _asyncapi_schema(v) for k, v in node.items()}
    found = out.get("discriminator")
    if isinstance(found, dict):
        tag = found["propertyName"]
        out["discriminator"] = tag
        out["properties"] = {tag: {"type": "string", "enum": sorted(found.get("mapping", {}))}}
        out["required"] = [tag]
    return out


def _components() -> tuple[dict[str, Any], dict[str, Any]]:
    """(payload schema by value name, component schemas), as AsyncAPI Schema Objects."""
    types = list(dict.fromkeys(value_type(t) for t in Topic if value_type(t) is not None))
    payloads, components = msgspec.json.schema_components(types, ref_template=_COMPONENT_REF)
    by_name = {
        value_name(t): _asyncapi_schema(_tidy(p)) for t, p in zip(types, payloads, strict=True)
    }
    return by_name, _asyncapi_schema(_tidy(components))


def _message(name: str, payload: dict[str, Any], key: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "contentType": "application/json",
        "payload": payload,
        "bindings": {"kafka": {"key": key, "bindingVersion": _KAFKA_BINDING}},
    }


def _dead_letter(topic: Topic) -> dict[str, Any]:
    original = value_type(topic)
    what = value_name(original) if original is not None else "record"
    return {
        "name": f"DeadLetter_{_channel_id(topic.value)}",
        "summary": f"A {topic.value} record that could not be processed",
        "description": f"The original key and value bytes, unchanged: normally a {what}, but"
        " possibly not even JSON (that may be why it is here). The reason and the origin are"
        " in the headers. Replay with `postino dlq replay`.",
        "headers": {"$ref": _COMPONENT_REF.format(name="DeadLetterHeaders")},
        "payload": {"description": "original value bytes"},
        "bindings": {"kafka": {"key": _KEYS[family(topic)], "bindingVersion": _KAFKA_BINDING}},
    }


def _dlq_headers_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {h: {"type": "string", "description": d} for h, d in DLQ_HEADERS.items()},
        "required": list(DLQ_HEADERS),
    }


def _operations(channel_id: str, message: str, topic: Topic, *, dlq: bool) -> dict[str, Any]:
    ref = {"$ref": f"#/channels/{channel_id}"}
    msg = [{"$ref": f"#/channels/{channel_id}/messages/{message}"}]
    ops: dict[str, Any] = {}
    if dlq or topic not in _EXTERNAL_PRODUCERS:
        ops[f"send_{channel_id}"] = {"action": "send", "channel": ref, "messages": msg}
    if not dlq and topic in CONSUMED:
        ops[f"receive_{channel_id}"] = {"action": "receive", "channel": ref, "messages": msg}
    return ops


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document: every topic, retry tier and DLQ, key, value, headers."""
    payloads, schemas = _components()
    schemas["DeadLetterHeaders"] = _dlq_headers_schema()
    messages_: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in Topic:
        name = value_name(value_type(topic))
        messages_.setdefault(name, _message(name, payloads[name], _KEYS[family(topic)]))
        cid = _channel_id(topic.value)
        description = _DESCRIPTIONS.get(family(topic), "")
        if family(topic) is not topic:
            description = f"Retry tier of {family(topic).value}: {description}"
        channels[cid] = {
            "address": topic.value,
            "description": description,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations.update(_operations(cid, name, topic, dlq=False))
    for topic in CONSUMED:
        dead = _dead_letter(topic)
        messages_[dead["name"]] = dead
        cid = _channel_id(topic.dlq())
        channels[cid] = {
            "address": topic.dlq(),
            "description": f"Dead letters of {topic.value}.",
            "messages": {dead["name"]: {"$ref": f"#/components/messages/{dead['name']}"}},
        }
        operations.update(_operations(cid, dead["name"], topic, dlq=True))
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Postino topics",
            "version": CONTRACT_VERSION,
            "description": "Kafka topics of Postino. Addresses are base names: every"
            " deployment prepends POSTINO_TOPIC_PREFIX. Values are JSON (msgspec);"
            " consumers ignore unknown fields. Generated by `postino contracts --write`.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages_},
    }


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name -> content of every generated contract file."""
    files = {schema_file(t): _dump(topic_schema(t)) for t in TOPIC_VALUE_TYPES}
    files[ASYNCAPI_FILE] = _dump(asyncapi())
    return files
