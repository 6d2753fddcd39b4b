"""Text no store or channel can carry is refused up front (docs/integrators/sending.md).

`body_problem(raw)` looks at a JSON body before it is decoded into its type and
answers the first problem, naming the field:
- nesting deeper than `MAX_DEPTH` levels (checked on the raw bytes, before any
  decoder recurses into them);
- a C0 or C1 control character in any string, keys included (TAB, LF and CR are
  allowed only in the fields named multi-line, such as `content.markdown`);
- an unpaired UTF-16 surrogate (an escape like `\\ud800` with no partner);
- DEL (U+007F) in any string;
- in single-line strings (every field not named multi-line, and every key): text
  that looks like something else: bidi controls (U+202A-U+202E, U+2066-U+2069),
  zero-width and other format characters (Unicode category Cf, U+FEFF and the
  soft hyphen included) and the separators U+2028/U+2029, which would reorder, hide
  or break a subject or a name where it is shown. A multi-line field keeps format
  characters (an emoji sequence is joined by U+200D).

`value_problem(name, value)` applies the single-line rules to one value: query
parameters and path segments go through it (the ingress answers 400), so text no
store can carry never reaches a query either.

The same check runs at the ingress (400, the detail names the field) and in deliver
for records produced straight to Kafka (the DLQ, with the same code). It is cheap on
the common path: a body with at most `MAX_DEPTH` brackets cannot be too deep, and one
without a C1 character or an escape other than `\\"`, `\\\\` and `\\/` cannot hold a
control character or a surrogate (both tests on the bytes, at C speed), so only
bodies that could fail (a markdown with line breaks, in practice) are decoded a
second time, by msgspec when no escape writes a surrogate, and only their
strings that are not plainly printable are looked at closely.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from schemas.patterns import LOOKALIKE_CATEGORIES

MAX_DEPTH = 32
#: The fields of a message where TAB, LF and CR are text, not control characters.
MESSAGE_MULTILINE = frozenset({"content.markdown"})

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: JSON's white space between tokens, removed before asking whether a body's text is
#: all printable.
_JSON_SPACE = str.maketrans("", "", " \t\n\r")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]')
#: What can decode to a control character or a surrogate: an escape other than \" \\ \/
#: (found at every backslash, so `\\n` matches too: a false alarm, never a miss), a
#: C1 character (U+0080..U+009F: C2 80..C2 9F in UTF-8), or a surrogate written raw
#: (ED A0..ED BF: not UTF-8, but `json.loads` lets it through).
_RISKY = re.compile(rb'\\[^"\\/]|\xc2[\x80-\x9f]|\xed[\xa0-\xbf]')
#: A `\\uD800`..`\\uDFFF` escape (or something that looks like one: a false alarm only
#: costs the slower decoder).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abAB]|\\u[dD][c-fC-F]")
_GENERIC = msgspec.json.Decoder()
_PATH_SHOWN = 4


@dataclass(frozen=True, slots=True)
class TextProblem:
    """Why a body is refused: `code` for the DLQ, `detail` names the field."""

    code: str
    detail: str


def _shown(label: str) -> str:
    if label.isprintable():
        return label  # nothing to replace (the common case, at C speed)
    return _CONTROL.sub("?", _SURROGATE.sub("?", label))


def _join(labels: list[str]) -> str:
    """`content.x[2].y`, at most `_PATH_SHOWN` steps, unprintable characters as `?`."""
    shown = [_shown(label)[:64] for label in labels[:_PATH_SHOWN]]
    path = "".join(f".{label}" if not label.startswith("[") else label for label in shown)
    path = path.lstrip(".") or "body"
    return path + ("..." if len(labels) > _PATH_SHOWN else "")


def _key(token: bytes) -> str:
    try:
        return str(json.loads(token))
    except ValueError:
        return token[1:-1].decode("utf-8", "replace")


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> TextProblem | None:
    """Scan the tokens (strings skipped whole) for the first container past `limit`.

    A body with at most `limit` opening brackets (counted in strings too, so never
    fewer than it nests) cannot be too deep: it is answered without a scan, which
    is every record in practice (the scan costs ~45 us on a message, the count <1)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return None
    kinds: list[bytes] = []
    indexes: list[int] = []
    labels: list[str] = []
    last_string, key = b"", ""
    for match in _TOKENS.finditer(raw):
        token = match.group()
        first = token[:1]
        if first == b'"':
            last_string = token
        elif first == b":":
            key = _key(last_string)
        elif first == b",":
            if kinds and kinds[-1] == b"[":
                indexes[-1] += 1
        elif first in (b"{", b"["):
            if kinds:
                labels.append(key if kinds[-1] == b"{" else f"[{indexes[-1]}]")
            if len(kinds) >= limit:
                return TextProblem(
                    "nested_too_deep", f"{_join(labels)}: nested deeper than {limit} levels"
                )
            kinds.append(first)
            indexes.append(0)
        elif kinds:
            kinds.pop()
            indexes.pop()
            if labels:
                labels.pop()
    return None


def top_level_strings(raw: bytes) -> dict[str, str]:
    """The string members of a JSON object's top level, read by scanning tokens (so at
    any nesting depth, in linear time, without decoding the rest); {} when `raw` is
    not an object. Used to name a message in a record that cannot be decoded whole."""
    found: dict[str, str] = {}
    depth, key, expect_value = 0, None, False
    for match in _TOKENS.finditer(raw):
        token = match.group()
        first = token[:1]
        if first in (b"{", b"["):
            if depth == 0 and first != b"{":
                return {}
            depth += 1
            expect_value = False
        elif first in (b"}", b"]"):
            depth -= 1
        elif depth != 1:
            continue
        elif first == b":":
            expect_value = True
        elif first == b",":
            key, expect_value = None, False
        elif first == b'"':
            if expect_value and key is not None:
                found.setdefault(key, _key(token))
                key, expect_value = None, False
            elif not expect_value:
                key = _key(token)
    return found


def _strings(value: Any, labels: list[str]) -> Iterator[tuple[list[str], str, bool]]:
    """(path, text, is_key) of every string in a decoded JSON value (depth is bounded)."""
    if isinstance(value, str):
        yield labels, value, False
    elif isinstance(value, dict):
        for key, item in value.items():
            yield [*labels, key], key, True
            yield from _strings(item, [*labels, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, [*labels, f"[{index}]"])


def _string_problem(text: str, multiline: bool) -> str | None:
    """What is wrong with one string, or None. `isprintable()` (C speed) answers for
    almost every string; the regexes only run on the rest."""
    probe = text.replace("\n", "").replace("\r", "").replace("\t", "") if multiline else text
    if probe.isprintable():
        return None
    if _SURROGATE.search(text):
        return "contains an unpaired surrogate"
    found = (_CONTROL_MULTILINE if multiline else _CONTROL).search(text)
    if found is not None:
        return f"contains the control character U+{ord(found.group()):04X}"
    if not multiline:
        for char in text:
            if unicodedata.category(char) in LOOKALIKE_CATEGORIES:
                return f"contains the invisible or format character U+{ord(char):04X}"
    return None


def _code(why: str) -> str:
    if "surrogate" in why:
        return "unpaired_surrogate"
    return "format_character" if "format character" in why else "control_character"


def value_problem(name: str, value: str) -> TextProblem | None:
    """The single-line rules for one value (a query parameter, a path segment)."""
    if value.isprintable():
        return None
    why = _string_problem(value, multiline=False)
    if why is None:
        return None
    return TextProblem(_code(why), f"{_shown(name)[:64]}: {why}")


def _text_problem(value: Any, multiline: Collection[str]) -> TextProblem | None:
    for labels, text, is_key in _strings(value, []):
        if text.isprintable():
            continue  # nothing to refuse, in a multi-line field or not
        path = _join(labels)
        why = _string_problem(text, not is_key and path in multiline)
        if why is not None:
            shown = f"{path}{' (a property name)' if is_key else ''}"
            return TextProblem(_code(why), f"{shown}: {why}")
    return None


def body_problem(
    raw: bytes, multiline: Collection[str] = MESSAGE_MULTILINE, max_depth: int = MAX_DEPTH
) -> TextProblem | None:
    """The first problem of a JSON body, or None (malformed JSON is left to the
    typed decoder, which says so)."""
    deep = too_deep(raw, max_depth)
    if deep is not None:
        return deep
    if not _could_fail(raw):
        return None
    value = _decoded(raw)
    return None if value is None else _text_problem(value, multiline)


def _could_fail(raw: bytes) -> bool:
    """Whether a body may hold a refused character (never a miss; false alarms only
    cost a decode). An escape other than \\" \\\\ \\/, a C1 byte or a raw surrogate
    may (`_RISKY`); otherwise an ASCII body may only through DEL, and any other body
    only through a character Python does not call printable (white space between
    JSON tokens aside), all tested at C speed."""
    if (b"\\" in raw or b"\xc2" in raw or b"\xed" in raw) and _RISKY.search(raw) is not None:
        return True
    if raw.isascii():
        return b"\x7f" in raw
    return not raw.decode("utf-8", "replace").translate(_JSON_SPACE).isprintable()


def _decoded(raw: bytes) -> Any:
    """The body as Python values, as `json.loads` reads it (None when it cannot):
    msgspec's faster decoder when no `\\u` escape writes a surrogate (the only way to
    write an unpaired one, which msgspec refuses and `json.loads` keeps) and it
    accepts the body; `json.loads` for the rest (it also takes NaN, for instance)."""
    if _SURROGATE_ESCAPE.search(raw) is None:
        try:
            return _GENERIC.decode(raw)
        except (msgspec.DecodeError, ValueError):
            pass
    try:
        return json.loads(raw)
    except ValueError:
        return None
