"""The HTML part of an e-mail: its text, written in markdown, rendered and sanitized.

Senders write their messages in markdown; citizens' mail clients show HTML.
markdown-it-py renders CommonMark (plus tables and strikethrough); raw HTML may pass the
renderer, but nh3 (the ammonia sanitizer) then keeps only the tags and attributes listed
here: `<script>` and `<style>` go with their content, event handlers and styles go, and
links keep only http, https and mailto targets (a `javascript:` link loses its href).
Images are dropped too: a remote image tells its sender when and where a citizen opens
the e-mail. The plain-text part stays the markdown itself, readable as it is.

Rendering is a pure function of the text and costs a tenth of notify's CPU per e-mail:
the latest texts are kept rendered (`RENDERED_KEPT`), so a notice sent alike to many
citizens, the common case of a public body's mailing, is rendered once.
"""

from __future__ import annotations

import functools
from html import escape

import nh3
from markdown_it import MarkdownIt


class _Markdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        """Every link becomes an <a>; nh3 then drops a target outside _URL_SCHEMES, so a
        `[text](javascript:...)` shows its text without its target, not its source."""
        return True


_MARKDOWN = _Markdown("commonmark", {"html": True}).enable(["table", "strikethrough"])
_TAGS = {
    "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
_URL_SCHEMES = {"http", "https", "mailto"}


#: Distinct markdown texts kept rendered (each at most the message limit of 10,000
#: characters: a few MiB at worst).
RENDERED_KEPT = 256


@functools.lru_cache(maxsize=RENDERED_KEPT)
def sanitized_fragment(markdown: str) -> str:
    """The markdown as HTML that a mail client can show safely (a fragment, no <html>)."""
    return nh3.clean(
        _MARKDOWN.render(markdown),
        tags=_TAGS,
        clean_content_tags={"script", "style"},
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def html_document(subject: str, markdown: str) -> str:
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(subject)}</title>\n</head>\n<body>\n"
        f"{sanitized_fragment(markdown)}</body>\n</html>\n"
    )
