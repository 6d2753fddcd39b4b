"""Template rules: placeholders, filling, escaping, the ingress cache's versions."""

from __future__ import annotations

import pytest

from worker.services.templates import (
    Template,
    TemplateCache,
    TemplateError,
    check_text,
    escape_markdown,
    fill,
    placeholders,
)


def _template(version: int = 1, subject: str = "Avviso ((anno))", seq: int = 1) -> Template:
    markdown = "Gentile ((nome)), l'avviso del ((anno)) è pronto."
    found = placeholders(subject, markdown)
    return Template("t1", version, "svc", "n", subject, markdown, found, seq=seq)


def test_placeholders_are_named_once_in_order_of_first_appearance() -> None:
    assert placeholders("((b)) e ((a))", "((a)) ((c_1)) ((b))") == ("b", "a", "c_1")


@pytest.mark.parametrize(
    ("subject", "named"),
    [
        ("Avviso ((nome cognome))", "subject: ((nome cognome))"),
        ("Avviso (()) vuoto", "subject: (())"),
        ("Avviso ((città))", "subject: ((città))"),
    ],
)
def test_a_malformed_placeholder_is_refused_naming_it(subject: str, named: str) -> None:
    with pytest.raises(TemplateError, match=r"^" + named.replace("(", r"\(").replace(")", r"\)")):
        check_text("n", subject, "testo")


def test_filling_replaces_every_placeholder_and_escapes_markdown_only() -> None:
    subject, markdown = fill(_template(), {"anno": "2026", "nome": "*Mario* [x](y)"})
    assert subject == "Avviso 2026"
    assert markdown == r"Gentile \*Mario\* \[x\]\(y\), l'avviso del 2026 è pronto."


def test_a_missing_or_unknown_value_names_the_placeholder() -> None:
    with pytest.raises(TemplateError, match=r"^template\.values\.nome: required"):
        fill(_template(), {"anno": "2026"})
    with pytest.raises(TemplateError, match=r"^template\.values\.extra: not a placeholder"):
        fill(_template(), {"anno": "2026", "nome": "M", "extra": "x"})


def test_escaping_keeps_the_text_as_written() -> None:
    assert escape_markdown("1.5 - #1 _a_ `b` <c> |d| ~e~ !f {g} +h \\") == (
        r"1\.5 \- \#1 \_a\_ \`b\` \<c\> \|d\| \~e\~ \!f \{g\} \+h \\"
    )


def test_the_cache_serves_the_latest_version_unless_asked_and_only_to_its_service() -> None:
    cache = TemplateCache()
    cache.add([_template(1, seq=3), _template(2, "Nuovo avviso ((anno))", seq=7)])
    assert cache.seq == 7 and len(cache) == 2
    assert cache.find("svc", "t1", None).version == 2
    assert cache.find("svc", "t1", 1).subject == "Avviso ((anno))"
    with pytest.raises(TemplateError, match=r"^template\.version"):
        cache.find("svc", "t1", 3)
    with pytest.raises(TemplateError, match=r"^template\.id"):
        cache.find("other", "t1", None)
    cache.add([_template(1, seq=3)])  # a refresh's overlap changes nothing
    assert len(cache) == 2 and cache.seq == 7
