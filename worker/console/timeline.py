"""One message's story, as an operator may see it: the steps in time order.

Built from what is stored (the message row without content or fiscal code, its
notifications, the attempts journal) and the dead letters the broker watch keeps.
Read and paid appear as the sender may see them (docs/integrators/premium.md,
callbacks.md): only for an ADVANCED message, read by the same rule as the sender's
status GET (`services.read_status`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from schemas.enums import ReadStatus
from worker.console.broker import DeadLetterView
from worker.services.read_status import read_facts, sender_read_status


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds") if value else None


def _step(kind: str, at: datetime | None, title: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "at": _iso(at), "title": title, **extra}


def _stored(m: dict[str, Any]) -> dict[str, Any]:
    status = m["status"]
    if status == "PROCESSED":
        return _step("stored", m["processed_at"], "Stored in the inbox (PROCESSED)")
    reason = m["rejection_reason"] or m["failure_reason"]
    return _step(status.lower(), m["processed_at"], f"{status}", reason=reason)


def _sender_sees(m: dict[str, Any]) -> list[dict[str, Any]]:
    """Read and paid as the sender may see them."""
    if m["status"] != "PROCESSED":
        return []
    if m["feature_level_type"] != "ADVANCED":
        note = "read and paid are not reported to the sender of a STANDARD message"
        return [_step("note", None, "Read / paid not visible to the sender", reason=note)]
    steps: list[dict[str, Any]] = []
    read = sender_read_status(read_facts(m))
    if read == ReadStatus.UNAVAILABLE:
        note = "the citizen does not share read status with this service"
        steps.append(_step("read", None, "Read status: UNAVAILABLE", reason=note))
    elif read == ReadStatus.READ:
        steps.append(_step("read", m["read_at"], "Read by the citizen"))
    else:
        steps.append(_step("read", None, "Not read yet"))
    if m["has_payment"]:
        if m["paid_at"] is not None:
            steps.append(_step("paid", m["paid_at"], "Paid"))
        else:
            steps.append(_step("paid", None, "Not paid yet"))
    return steps


def _accepted(m: dict[str, Any]) -> dict[str, Any]:
    """The first step; it names the template the text was written from, if any."""
    template = m.get("template_id")
    if template is None:
        return _step("accepted", m["created_at"], "Accepted by the ingress")
    version = m.get("template_version")
    title = f"Accepted by the ingress, written from template {template} version {version}"
    return _step("accepted", m["created_at"], title, template={"id": template, "version": version})


def _attempt(a: dict[str, Any]) -> dict[str, Any]:
    if a["kind"] == "notification":
        title = f"{a['channel']} notification: {a['outcome']}"
    else:
        title = f"Callback ({a['channel']}): {a['outcome']}"
    return _step(
        a["kind"],
        a["at"],
        title,
        channel=a["channel"],
        attempt=a["attempt"],
        outcome=a["outcome"],
        tier=a["tier"],
        status_code=a["status_code"],
        reason=a["detail"],
        trace_id=a["trace_id"],
    )


def _notification_states(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Channels without journal entries (attempted before the journal existed)."""
    return [
        _step(
            "notification",
            r["updated_at"],
            f"{r['channel']} notification: {r['status']}",
            channel=r["channel"],
            attempt=r["attempts"],
            outcome=r["status"],
        )
        for r in rows
    ]


def _dead(view: DeadLetterView) -> dict[str, Any]:
    when = datetime.fromtimestamp(view.timestamp_ms / 1000, UTC)
    origin = (
        f"{view.original_topic}[{view.original_partition}]@{view.original_offset}"
        if view.original_topic
        else None
    )
    return _step(
        "dlq",
        when,
        f"Dead letter in {view.topic}: {view.code}",
        code=view.code,
        reason=view.detail,
        origin=origin,
    )


def _template(m: dict[str, Any] | None) -> dict[str, Any] | None:
    if m is None or m.get("template_id") is None:
        return None
    return {"id": m["template_id"], "version": m.get("template_version")}


def build(
    message_id: str, story: dict[str, Any], dead: Sequence[DeadLetterView]
) -> dict[str, Any] | None:
    """The timeline, or None when nothing at all is known of `message_id`."""
    m = story["message"]
    if m is None and not story["attempts"] and not dead:
        return None
    steps: list[dict[str, Any]] = []
    tail: list[dict[str, Any]] = []
    if m is not None:
        steps.append(_accepted(m))
        steps.append(_stored(m))
        tail = _sender_sees(m)
    journaled = {a["channel"] for a in story["attempts"] if a["kind"] == "notification"}
    steps += [_attempt(a) for a in story["attempts"]]
    steps += _notification_states(
        [n for n in story["notifications"] if n["channel"] not in journaled]
    )
    steps += [_dead(v) for v in dead] + tail
    # Stable sort: at the same millisecond, accepted stays before stored, and so on.
    timed = sorted((s for s in steps if s["at"]), key=lambda s: str(s["at"]))
    timed += [s for s in steps if not s["at"]]
    traces = sorted({s["trace_id"] for s in timed if s.get("trace_id")})
    return {
        "id": message_id,
        "service_id": m["sender_service_id"] if m is not None else None,
        "status": m["status"] if m is not None else "UNKNOWN",
        "feature_level_type": m["feature_level_type"] if m is not None else None,
        "template": _template(m),
        "trace_ids": traces,
        "steps": timed,
    }
