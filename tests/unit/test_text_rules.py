"""docs/integrators/sending.md: the text rules give the same answers on every path of the check."""

from __future__ import annotations

from worker.core.text_rules import body_problem


def detail(raw: bytes) -> str | None:
    found = body_problem(raw)
    return None if found is None else found.detail


def test_quote_backslash_and_slash_escapes_are_text() -> None:
    assert detail(rb'{"content":{"subject":"a \"b\" c\\d e\/f"}}') is None


def test_an_escaped_backslash_before_an_n_is_not_a_line_break() -> None:
    assert detail(rb'{"content":{"subject":"C:\\new"}}') is None


def test_line_breaks_are_text_in_the_markdown_only() -> None:
    assert detail(rb'{"content":{"subject":"s","markdown":"a\nb\r\n\tc"}}') is None
    assert detail(rb'{"content":{"subject":"a\nb","markdown":"m"}}') == (
        "content.subject: contains the control character U+000A"
    )
    assert detail(rb'{"content":{"markdown":"a\nb\fc"}}') == (
        "content.markdown: contains the control character U+000C"
    )


def test_a_c1_character_written_raw_or_escaped_is_refused() -> None:
    raw = '{"content":{"subject":"a\u0085b"}}'.encode()
    assert detail(raw) == "content.subject: contains the control character U+0085"
    assert detail(rb'{"content":{"subject":"a\u0085b"}}') == detail(raw)


def test_a_control_character_in_a_property_name_is_named_as_such() -> None:
    assert detail(rb'{"content":{"k\n":"v"}}') == (
        "content.k? (a property name): contains the control character U+000A"
    )


def test_json_only_the_standard_library_reads_is_still_checked() -> None:
    # NaN is not JSON to msgspec; the check reads it as json.loads does, as before.
    assert detail(rb'{"n":NaN,"content":{"subject":"a\tb"}}') == (
        "content.subject: contains the control character U+0009"
    )


def test_an_unpaired_surrogate_is_refused_escaped_or_raw() -> None:
    assert detail(rb'{"content":{"subject":"a\ud800"}}') == (
        "content.subject: contains an unpaired surrogate"
    )
    raw = b'{"content":{"subject":"\\"a\xed\xa0\x80"}}'
    assert detail(raw) == "content.subject: contains an unpaired surrogate"


def test_malformed_json_is_left_to_the_typed_decoder() -> None:
    assert detail(rb'{"content":{"subject":"a\nb"}') is None


def test_escaped_letters_and_paired_surrogates_are_text() -> None:
    assert detail(rb'{"content":{"subject":"Citt\u00e0 \ud83d\ude00","markdown":"a\nb"}}') is None
    assert detail(rb'{"content":{"subject":"Citt\u00e0\u0007"}}') == (
        "content.subject: contains the control character U+0007"
    )
