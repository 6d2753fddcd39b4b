"""The cases of the API fuzz: every operation of every OpenAPI document Postino serves
or generates, drawn by schemathesis, valid by schema and not.

Operations are read from the documents, never listed here, so a route added anywhere
is fuzzed on the next run. `API_CASES` is spread evenly over the operations; an
operation with nothing to vary (no parameter, no body) gets a few repeats and its
share goes to the others.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.fuzz.generate import examples

GENERATED = Path(__file__).resolve().parents[2] / "schemas" / "generated"
#: Requests per operation that has nothing to vary.
FIXED_REPEATS = 3
_METHODS = {"get", "put", "post", "patch", "delete"}


@dataclass(frozen=True, slots=True)
class ApiCase:
    route: str
    case: Any
    #: Security schemes of the requirement this case is sent with ([] for none).
    schemes: tuple[str, ...]
    mode: str
    #: Path parameters replaced by values that exist (see `api_world`).
    named: bool = False


def documents(served: dict[str, Any]) -> list[dict[str, Any]]:
    """The served document, then every OpenAPI document under `schemas/generated`."""
    found = [served]
    for path in sorted(GENERATED.glob("*openapi*.json")):
        found.append(json.loads(path.read_text()))
    return found


def _requirements(raw: dict[str, Any], root: dict[str, Any]) -> list[tuple[str, ...]]:
    alternatives = raw.get("security", root.get("security", []))
    return [tuple(item) for item in alternatives] or [()]


def _parameters(raw: dict[str, Any], path_item: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = raw.get("parameters", []) + path_item.get("parameters", [])
    return found


def _fixed(raw: dict[str, Any], path_item: dict[str, Any]) -> bool:
    return not _parameters(raw, path_item) and "requestBody" not in raw


def _in_path(raw: dict[str, Any], path_item: dict[str, Any]) -> bool:
    return any(p.get("in") == "path" for p in _parameters(raw, path_item))


def _operations(docs: list[dict[str, Any]]) -> list[tuple[Any, dict[str, Any], str]]:
    """(operation, its document, its kind) for each distinct (method, path); the kind
    is `fixed` (nothing to vary), `path` (path parameters) or `other`."""
    seen: set[tuple[str, str]] = set()
    found = []
    for doc in docs:
        for result in schemathesis.openapi.from_dict(doc).get_all_operations():
            operation = result.ok()
            key = (operation.method.lower(), operation.path)
            if key in seen or key[0] not in _METHODS:
                continue
            seen.add(key)
            raw, path_item = operation.definition.raw, doc["paths"][operation.path]
            kind = "fixed" if _fixed(raw, path_item) else "other"
            found.append((operation, doc, "path" if _in_path(raw, path_item) else kind))
    return found


def _draw(operation: Any, mode: GenerationMode, n: int) -> list[Any]:
    if n <= 0:
        return []
    try:
        return examples(operation.as_strategy(generation_mode=mode), n)
    except Unsatisfiable:  # nothing in the schema can be made invalid
        return []


def _variants(operation: Any, n: int) -> list[tuple[Any, str]]:
    """`n` cases: half valid by the schema, half not (valid ones fill what negative
    generation cannot make)."""
    negative = _draw(operation, GenerationMode.NEGATIVE, n // 2)
    positive = _draw(operation, GenerationMode.POSITIVE, n - len(negative))
    return [(c, "positive") for c in positive] + [(c, "negative") for c in negative]


def cases(docs: list[dict[str, Any]], total: int) -> list[ApiCase]:
    """About `total` cases (at least that many when the schemas allow), every operation
    of `docs` among them; security alternatives taken in turn. A case drawn for an
    operation with path parameters is sent twice: as drawn, and naming things that
    exist (two requests for the price of one draw, the costly part)."""
    operations = _operations(docs)
    fixed = sum(1 for _, _, kind in operations if kind == "fixed")
    varied = max(len(operations) - fixed, 1)
    share = math.ceil(max(total - fixed * FIXED_REPEATS, 0) / varied)
    found: list[ApiCase] = []
    for operation, doc, kind in operations:
        wanted = {"fixed": FIXED_REPEATS, "path": math.ceil(share / 2)}.get(kind, share)
        drawn = _variants(operation, wanted)
        if kind == "fixed" and drawn:
            drawn = [drawn[i % len(drawn)] for i in range(FIXED_REPEATS)]
        requirements = _requirements(operation.definition.raw, doc)
        route = f"{operation.method.upper()} {operation.path}"
        for i, (case, mode) in enumerate(drawn):
            schemes = requirements[i % len(requirements)]
            found.append(ApiCase(route, case, schemes, mode))
            if kind == "path":
                found.append(ApiCase(route, case, schemes, mode, named=True))
    return found


def routes(docs: list[dict[str, Any]]) -> set[str]:
    """`METHOD /path` of every operation of `docs`."""
    return {f"{op.method.upper()} {op.path}" for op, _, _ in _operations(docs)}
