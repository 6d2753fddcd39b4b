"""What a citizen's mail client gets from a sender's markdown: HTML, and only safe HTML."""

from __future__ import annotations

from worker.adapters.mail_html import html_document, sanitized_fragment


def test_markdown_becomes_html() -> None:
    html = sanitized_fragment("# Avviso\n\n**Importo**: 10 €\n\n- uno\n- due\n")

    assert "<h1>Avviso</h1>" in html
    assert "<strong>Importo</strong>: 10 €" in html
    assert "<ul>\n<li>uno</li>\n<li>due</li>\n</ul>" in html


def test_links_keep_safe_targets_only_and_never_pass_the_referrer() -> None:
    html = sanitized_fragment(
        "[portale](https://example.org/pay) [scrivi](mailto:a@example.org) "
        '[clic](javascript:alert(1)) <a href="javascript:alert(2)">qui</a> '
        '<a href="data:text/html,x">dati</a>'
    )

    assert '<a href="https://example.org/pay" rel="noopener noreferrer">portale</a>' in html
    assert 'href="mailto:a@example.org"' in html
    assert "javascript" not in html and "alert" not in html and "data:text" not in html
    assert '<a rel="noopener noreferrer">clic</a>' in html
    assert "qui" in html and "dati" in html


def test_raw_html_scripts_styles_handlers_and_images_are_stripped() -> None:
    html = sanitized_fragment(
        "Testo <script>alert('x')</script> <style>p{}</style>\n\n"
        '<p onclick="steal()" style="color:red">para</p>\n\n'
        "![pixel](https://tracker.example/p.gif) <img src=x onerror=alert(3)>"
    )

    assert "<script" not in html and "alert" not in html
    assert "<style" not in html and "p{}" not in html
    assert "onclick" not in html and "style=" not in html
    assert "<img" not in html and "tracker" not in html
    assert "para" in html


def test_the_document_escapes_its_title() -> None:
    doc = html_document("Tassa <rifiuti> & altro", "ciao")

    assert "<title>Tassa &lt;rifiuti&gt; &amp; altro</title>" in doc
    assert doc.startswith("<!DOCTYPE html>")


def test_a_text_sent_to_many_citizens_is_rendered_once_and_alike() -> None:
    text = "# Avviso TARI\n\nScade il **30 novembre**: [paga](https://example.org/pay)\n"
    before = sanitized_fragment.cache_info()
    first = sanitized_fragment(text)
    again = [sanitized_fragment(str(text)) for _ in range(3)]
    after = sanitized_fragment.cache_info()
    assert again == [first] * 3
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 3)
    assert sanitized_fragment(text + "altro") != first  # another text, its own rendering
