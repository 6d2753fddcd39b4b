"""Examples for the OpenAPI document, made from the very schemas they illustrate.

`example(schema, components)` builds a value that the schema accepts: the required
properties (recursively), the first enum value or branch of a union, numbers at their
minimum, strings that satisfy their pattern (picked from realistic candidates below) and
lengths. A test validates every example of the document against its schema, so a new
pattern without a matching candidate is caught there, not by an integrator.
"""

from __future__ import annotations

import re
from typing import Any

#: Realistic strings, tried in order against a pattern (the first that matches wins).
CANDIDATES = (
    "RSSMRA80A01H501U",  # citizen fiscal code
    "01234567890",  # organisation fiscal code
    "012345678901234567",  # notice number
    "it_IT",
    "https://sender.example.org/postino/callback",
    "mario.rossi@example.org",
    "+39 06 1234567",
    "01J5V7Q3N8R2ZK4X6W9YB0C1D2",  # ULID (message id)
    "example-service",
    "Comune di Esempio",
)
_FILLER = "Gentile cittadino, la informiamo che e' disponibile un nuovo documento nell'app IO. "
_FORMATS = {
    "date-time": "2026-03-01T10:00:00Z",
    "date": "2026-03-01",
    "email": "mario.rossi@example.org",
    "uri": "https://sender.example.org/postino/callback",
}


#: Property names whose example is a candidate rather than the name itself.
_NAMED = {"id": 7, "message_id": 7, "fiscal_code": 0, "email": 5, "organization_name": 9}


def _string(schema: dict[str, Any], name: str) -> str:
    if "format" in schema and schema["format"] in _FORMATS:
        return _FORMATS[schema["format"]]
    low, high = schema.get("minLength", 0), schema.get("maxLength", 10_000)
    pattern = schema.get("pattern")
    if pattern is not None:
        for candidate in CANDIDATES:
            if re.search(pattern, candidate) and low <= len(candidate) <= high:
                return candidate
        raise ValueError(f"no example string for pattern {pattern!r}: add one to CANDIDATES")
    if name in _NAMED and low <= len(CANDIDATES[_NAMED[name]]) <= high:
        return CANDIDATES[_NAMED[name]]
    text = name.replace("_", " ") or "example"
    if len(text) < low:
        size = max(low, min(high, 60))
        text = (_FILLER * (size // len(_FILLER) + 1))[:size]
    return text[:high]


def _number(schema: dict[str, Any]) -> int | float:
    value = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    if "exclusiveMinimum" in schema and "minimum" not in schema:
        value += 1
    return int(value) if schema.get("type") == "integer" else value


def _fixed(schema: dict[str, Any]) -> tuple[Any] | None:
    """The value a schema names itself, if any (as a 1-tuple: it may be None)."""
    if "examples" in schema:
        return (schema["examples"][0],)
    for key in ("const", "default"):
        if key in schema:
            return (schema[key],)
    if "enum" in schema:
        return (schema["enum"][0],)
    return None


def _typed(schema: dict[str, Any], components: dict[str, Any], name: str) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {p: example(props[p], components, p) for p in schema.get("required", [])}
    if kind == "array":
        count = max(1, schema.get("minItems", 1))
        return [example(schema.get("items", {}), components, name) for _ in range(count)]
    if kind == "string":
        return _string(schema, name)
    if kind in ("integer", "number"):
        return _number(schema)
    return True if kind == "boolean" else None


def example(schema: dict[str, Any], components: dict[str, Any], name: str = "") -> Any:
    """A value the schema accepts (see the module docstring)."""
    if "$ref" in schema:
        target = schema["$ref"].rsplit("/", 1)[-1]
        return example(components[target], components, name)
    fixed = _fixed(schema)
    if fixed is not None:
        return fixed[0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [b for b in schema[key] if b.get("type") != "null"] or schema[key]
            return example(branches[0], components, name)
    return _typed(schema, components, name)
