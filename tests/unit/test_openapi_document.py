"""The checked-in OpenAPI document: valid, typed, every error and header declared, and
every example accepted by the schema it illustrates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from worker.cli import contracts
from worker.ingress import openapi

DOCUMENT: dict[str, Any] = json.loads((contracts.GENERATED / contracts.OPENAPI_FILE).read_text())
METHODS = ("get", "put", "post", "patch", "delete")


def _operations() -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in DOCUMENT["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def _examples(operation: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
    for body in bodies:
        for media in body.get("content", {}).values():
            if "example" in media:
                yield media["schema"], media["example"]


def test_the_checked_in_document_is_the_served_one_and_valid_openapi() -> None:
    assert contracts.stale() == [], "stale: run `make schemas` and commit schemas/generated/"
    validate(DOCUMENT)
    assert DOCUMENT["servers"] == openapi.SERVERS


def test_every_operation_has_an_example_and_every_example_fits_its_schema() -> None:
    for name, operation in _operations():
        examples = list(_examples(operation))
        assert examples, f"{name}: no example"
        for schema, sample in examples:
            # internal $refs resolve against the document's own components
            rooted = {**schema, "components": DOCUMENT["components"]}
            errors = [e.message for e in Draft202012Validator(rooted).iter_errors(sample)]
            assert errors == [], f"{name}: example {sample!r} does not fit: {errors}"


def test_parameters_are_typed() -> None:
    for name, operation in _operations():
        for param in operation["parameters"]:
            assert param["schema"] != {"type": "string"} or param["in"] == "header", (
                f"{name}: {param['in']} parameter {param['name']} is an untyped string;"
                " declare the query as a msgspec Struct (openapi.declare(query=...))"
            )
    inbox = DOCUMENT["paths"]["/api/v1/citizen/messages"]["get"]["parameters"]
    types = {p["name"]: p["schema"].get("type") for p in inbox}
    assert types == {"page_size": "integer", "cursor": None, "archived": "boolean"}


def test_errors_are_declared_problems_with_their_headers() -> None:
    for name, operation in _operations():
        responses = operation["responses"]
        security = [next(iter(s)) for s in operation.get("security", [])]
        if security:
            assert "401" in responses, name
        if security and security[0] in openapi.BEARER_REALMS:
            assert "WWW-Authenticate" in responses["401"]["headers"], name
        if "429" in responses:
            assert "Retry-After" in responses["429"]["headers"], name
        for status, answer in responses.items():
            if status.startswith("4"):
                assert "application/problem+json" in answer["content"], f"{name} {status}"
    submit = DOCUMENT["paths"]["/api/v1/messages"]["post"]["responses"]
    assert "Location" in submit["201"]["headers"]
    assert {"400", "401", "403", "429", "503"} <= set(submit)


@pytest.mark.parametrize("pattern", ["^[A-Z]{3}$", "^[0-9]{2,3}-x$"])
def test_a_pattern_without_an_example_candidate_fails_loudly(pattern: str) -> None:
    from worker.ingress.openapi_examples import example

    with pytest.raises(ValueError, match="add one to CANDIDATES"):
        example({"type": "string", "pattern": pattern}, {})
