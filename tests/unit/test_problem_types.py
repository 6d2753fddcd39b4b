"""Every problem answer has a stable type and code from one catalogue, and the codes
of refused messages are the dead-letter codes of the same refusals."""

from __future__ import annotations

import ast
from pathlib import Path

import msgspec

from worker.ingress.problem_types import CATALOGUE, GENERIC, SPECIFIC, find
from worker.ingress.problems import problem

ROOT = Path(__file__).resolve().parents[2]


def _literal_calls(function: str) -> list[tuple[str, ast.Call]]:
    found = []
    for path in (ROOT / "worker").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == function
            ):
                found.append((path.name, node))
    return found


def test_every_title_an_answer_uses_is_catalogued_for_its_status() -> None:
    calls = _literal_calls("problem")
    assert calls
    for name, call in calls:
        status, title = call.args[0], call.args[1]
        if isinstance(status, ast.Constant) and isinstance(title, ast.Constant):
            kind = find(status.value, title.value)
            assert kind is not None and kind.title.lower() == title.value.lower(), (
                f"{name}: {status.value} {title.value!r} is not in problem_types"
            )


def test_every_refusal_code_is_catalogued_with_its_status_and_title() -> None:
    refusals = _literal_calls("Refusal")
    assert refusals
    for name, call in refusals:
        status, title, code = (call.args[i] for i in (0, 1, 3))
        assert isinstance(status, ast.Constant) and isinstance(title, ast.Constant)
        assert isinstance(code, ast.Constant), f"{name}: a refusal's code is a literal"
        status, title, code = status.value, title.value, code.value
        kind = CATALOGUE.get(code)
        assert kind is not None, f"{name}: refusal code {code!r} is not catalogued"
        assert (kind.status, kind.title) == (status, title), code


def test_codes_are_unique_snake_case_and_their_uri_ends_with_them() -> None:
    codes = [k.code for k in (*GENERIC, *SPECIFIC)]
    assert len(codes) == len(set(codes))
    for kind in (*GENERIC, *SPECIFIC):
        assert kind.code.replace("_", "").isalpha() and kind.code.islower()
        assert kind.uri == f"/problems/{kind.code}"


def test_an_answer_carries_the_type_and_code_of_its_refusal() -> None:
    response = problem(403, "Forbidden", "needs premium", code="premium_required")
    body = msgspec.json.decode(response.body)  # type: ignore[arg-type]
    assert body["type"] == "/problems/premium_required"
    assert body["code"] == "premium_required"
    assert body["title"] == "Forbidden"


def test_an_answer_without_a_code_gets_the_generic_type_of_its_title() -> None:
    body = msgspec.json.decode(problem(404, "Not found", "no such message").body)  # type: ignore[arg-type]
    assert (body["type"], body["code"]) == ("/problems/not_found", "not_found")
    # aiohttp's own reasons are title case
    body = msgspec.json.decode(problem(405, "Method Not Allowed", "GET").body)  # type: ignore[arg-type]
    assert body["code"] == "method_not_allowed"
