"""Nesting depth of a raw JSON body: the count of brackets answers the common case,
the scan the rest, with the same verdicts."""

from __future__ import annotations

from worker.core.text_rules import MAX_DEPTH, body_problem, too_deep


def _nested(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


def test_a_body_at_the_limit_passes_and_one_level_more_is_refused() -> None:
    assert too_deep(_nested(MAX_DEPTH)) is None
    deep = too_deep(_nested(MAX_DEPTH + 1))
    assert deep is not None
    assert deep.code == "nested_too_deep"
    assert deep.detail.endswith(f"nested deeper than {MAX_DEPTH} levels")


def test_brackets_inside_strings_never_count_as_nesting() -> None:
    flat = b'{"markdown": "' + b"[{" * 40 + b'", "list": [1, 2, [3]]}'
    assert too_deep(flat) is None
    assert body_problem(flat) is None


def test_many_shallow_containers_are_not_too_deep() -> None:
    wide = b"[" + b",".join(b'{"x": [1]}' for _ in range(40)) + b"]"
    assert too_deep(wide) is None
    assert too_deep(wide, limit=2) is not None
