"""Message templates: texts with `((placeholders))`, in versions, filled per message.

Guarantees:
- a placeholder is `((name))`, the name letters, digits and `_`; anything else between
  `((` and `))` is refused when the template is written, so a typo never reaches a
  citizen as literal text;
- a version never changes once written (a new text is the next version), so a
  message records exactly which text it was written from (template id and version);
- filling needs a value for every placeholder and refuses a value for none: either
  names the placeholder (`TemplateError`);
- a value is inserted as text: in the markdown its markdown characters are escaped,
  so a value cannot add links, emphasis or headings; the subject is plain text. The
  filled subject and markdown are then checked like any message (docs/integrators/sending.md).

`TemplateCache` is the ingress's copy: loaded at start, then only the versions added
since (`seq`), so the submit path never queries the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

PLACEHOLDER = re.compile(r"\(\(([A-Za-z0-9_]{1,64})\)\)")
_ANY_PLACEHOLDER = re.compile(r"\(\(([^()]*)\)\)")
#: Characters that mean something in markdown (CommonMark's escapable punctuation
#: that changes rendering), escaped with a backslash in values.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~])")
MAX_PLACEHOLDERS = 50
MAX_NAME = 100
MAX_SUBJECT = 1000
MAX_MARKDOWN = 10000
#: Templates one service may hold (each with any number of versions).
MAX_TEMPLATES_PER_SERVICE = 200


class TemplateError(ValueError):
    """A template or its values cannot be used: the text names the field."""


@dataclass(frozen=True, slots=True)
class Template:
    id: str
    version: int
    service_id: str
    name: str
    subject: str
    markdown: str
    placeholders: tuple[str, ...]
    created_at: datetime | None = None
    seq: int = 0


def placeholders(*texts: str) -> tuple[str, ...]:
    """The placeholder names of `texts`, in order of first appearance."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in PLACEHOLDER.finditer(text):
            seen.setdefault(match.group(1))
    return tuple(seen)


def _malformed(field_name: str, text: str) -> str | None:
    for match in _ANY_PLACEHOLDER.finditer(text):
        if PLACEHOLDER.fullmatch(match.group(0)) is None:
            shown = match.group(0)[:70]
            return f"{field_name}: {shown} is not a placeholder (letters, digits and _ only)"
    return None


def check_text(name: str, subject: str, markdown: str) -> tuple[str, ...]:
    """The placeholders of a new template or version; raises `TemplateError`."""
    for label, value, low, high in (
        ("name", name, 1, MAX_NAME),
        ("subject", subject, 1, MAX_SUBJECT),
        ("markdown", markdown, 1, MAX_MARKDOWN),
    ):
        if not low <= len(value) <= high:
            raise TemplateError(f"{label}: {low} to {high} characters")
    problem = _malformed("subject", subject) or _malformed("markdown", markdown)
    if problem is not None:
        raise TemplateError(problem)
    found = placeholders(subject, markdown)
    if len(found) > MAX_PLACEHOLDERS:
        raise TemplateError(f"placeholders: at most {MAX_PLACEHOLDERS}")
    return found


def escape_markdown(value: str) -> str:
    """`value` as literal text inside markdown."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", value)


def fill(template: Template, values: dict[str, str]) -> tuple[str, str]:
    """(subject, markdown) with every placeholder replaced; raises `TemplateError`
    naming the first missing or unknown value."""
    for name in template.placeholders:
        if name not in values:
            raise TemplateError(f"template.values.{name}: required by the template")
    known = set(template.placeholders)
    for name in values:
        if name not in known:
            raise TemplateError(
                f"template.values.{name}: not a placeholder of template {template.id}"
                f" version {template.version}"
            )
    subject = PLACEHOLDER.sub(lambda m: values[m.group(1)], template.subject)
    markdown = PLACEHOLDER.sub(lambda m: escape_markdown(values[m.group(1)]), template.markdown)
    return subject, markdown


@dataclass
class TemplateCache:
    """Every template version, by (service, template id); versions only ever get added."""

    _versions: dict[tuple[str, str], dict[int, Template]] = field(default_factory=dict)
    _seq: int = 0

    @property
    def seq(self) -> int:
        """The highest `seq` held: the next refresh reads the versions after it."""
        return self._seq

    def add(self, templates: list[Template]) -> None:
        for template in templates:
            key = (template.service_id, template.id)
            self._versions.setdefault(key, {})[template.version] = template
            self._seq = max(self._seq, template.seq)

    def find(self, service_id: str, template_id: str, version: int | None) -> Template:
        """The version asked for (None: the latest); raises `TemplateError`."""
        versions = self._versions.get((service_id, template_id))
        if not versions:
            raise TemplateError(f"template.id: no template {template_id} for this service")
        chosen = max(versions) if version is None else version
        found = versions.get(chosen)
        if found is None:
            raise TemplateError(
                f"template.version: template {template_id} has no version {version}"
            )
        return found

    def __len__(self) -> int:
        return sum(len(v) for v in self._versions.values())
