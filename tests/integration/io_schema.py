"""IO's own schemas, from the excerpt of its public API document in tests/data, as
validators: Postino's answers are checked against what a client generated from IO's
document would decode."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

EXCERPT = Path(__file__).parent.parent / "data" / "io_openapi_excerpt.yaml"


def _strict(node: Any) -> Any:
    """Swagger 2.0 vendor keys read as JSON Schema: `x-extensible-enum` lists the only
    values IO emits (`enum`), and `x-one-of: true` over `allOf` is a choice (`anyOf`)."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items() if not k.startswith("x-")}
    if "x-extensible-enum" in node:
        out["enum"] = list(node["x-extensible-enum"])
    if node.get("x-one-of") and "allOf" in out:
        out["anyOf"] = out.pop("allOf")
    return out


@cache
def _definitions() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(EXCERPT.read_text())["definitions"]
    return {name: _strict(schema) for name, schema in raw.items()}


def validate(value: Any, definition: str, *, patch: dict[str, Any] | None = None) -> None:
    """Raise `jsonschema.ValidationError` unless `value` is a valid IO `definition`.
    `patch` replaces definitions (a known defect of IO's document, named by the test)."""
    definitions = {**_definitions(), **(patch or {})}
    schema = {"$ref": f"#/definitions/{definition}", "definitions": definitions}
    jsonschema.Draft4Validator(schema).validate(value)
