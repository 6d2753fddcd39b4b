"""The error catalogue: every problem type of the HTTP API, from
`worker/ingress/problem_types.py`."""

from __future__ import annotations

from devkit.reference.markdown import BANNER, code, table
from worker.ingress.problem_types import GENERIC, SPECIFIC, ProblemType


def _rows(kinds: tuple[ProblemType, ...]) -> list[tuple[str, ...]]:
    return [(code(k.code), code(k.uri), str(k.status), k.title, k.meaning) for k in kinds]


def render() -> str:
    headers = ("code", "type", "status", "title", "when")
    example = (
        '{"type": "/problems/recipient_forbidden", "title": "Recipient forbidden",'
        ' "status": 403,\n "detail": "this service is not published and the citizen is not'
        ' an authorized recipient",\n "code": "recipient_forbidden"}'
    )
    parts = [
        BANNER.format(source="worker/ingress/problem_types.py"),
        "# Errors\n",
        "Every error answer is `application/problem+json` (RFC 9457) with IO's members,"
        " `type`, `title`, `status` and `detail`, and one more, `code`:\n",
        f"```json\n{example}\n```\n",
        "- `type` is `/problems/<code>`, a URI reference that is the same on every"
        " deployment; compare it (or `code`) as a string, and do not fetch it.\n"
        "- `code` and `type` are stable: a code is never renamed or reused. New codes may"
        " appear; treat an unknown one by its `status`.\n"
        "- `title` is IO's wording and `detail` says which field or limit, for people:"
        " do not parse them.\n"
        "- The codes of refused messages are the DLQ codes an upstream record gets for the"
        " same reason (see [Dead letters](../producers/dead-letters.md)).\n",
        "## Refused messages and limits\n",
        "What the sender API answers when a valid message may not be sent, checked in this"
        " order: the subject, the service's state and entitlements, the caller's address,"
        " then the limits.\n",
        table(headers, _rows(SPECIFIC)),
        "## General\n",
        table(headers, _rows(GENERIC)),
    ]
    return "\n".join(parts).rstrip() + "\n"
