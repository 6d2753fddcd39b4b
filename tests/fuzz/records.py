"""Hypothesis strategies for the records the consumers read: `messages.submitted`
(deliver), `payments.updates` (payments) and `messages.status` (callbacks).

Each mixes values valid by the topic's schema (most of them, so the happy paths run
at scale too), poisoned text, wrong shapes, deep nesting, bytes that are not JSON,
and record headers a producer may set: a W3C `traceparent` (valid, garbage, or
poisoned), since consumers read it when tracing is on.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from hypothesis import strategies as st

from schemas.enums import Channel, MessageStatus, NotificationKind, NotificationStatus
from schemas.patterns import FISCAL_CODE_BODY, SANDBOX_FISCAL_CODE
from tests.factories import MARKDOWN
from tests.fuzz.generate import deep, poisoned
from worker.core.records import OutRecord

CITIZEN = "RSSMRA80A01H501U"
#: How deep the deepest record goes (IO-style JSON, nested objects and arrays).
DEEPEST = 1000


def mostly(valid: st.SearchStrategy[Any], *others: st.SearchStrategy[Any]) -> Any:
    """`valid` three times out of four, else one of `others`: the happy path runs at
    scale too, and every field still gets its share of trouble."""
    other = st.one_of(*others)
    return st.integers(0, 3).flatmap(lambda n: valid if n else other)


notice_numbers = mostly(st.from_regex(r"[0123][0-9]{17}", fullmatch=True), st.text(max_size=20))
_WORDS = st.from_regex(r"[a-z0-9-]{1,40}", fullmatch=True)
fiscal_codes = mostly(
    st.sampled_from([CITIZEN, CITIZEN, SANDBOX_FISCAL_CODE]),
    st.from_regex(FISCAL_CODE_BODY, fullmatch=True),
    st.text(max_size=20),
)
json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30)
)
any_json = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
subjects = mostly(
    st.sampled_from(
        [
            "Avviso di pagamento TARI",
            "Promemoria IMU 2026",
            "Rinnovo carta d'identità",
            "Scadenza bollo auto",
        ]
    ),
    st.text(min_size=10, max_size=120),
    poisoned(st.just("Promemoria TARI 2026")),
    st.text(max_size=200),
)
markdowns = mostly(
    st.just(MARKDOWN),
    st.text(min_size=80, max_size=300),
    poisoned(st.just(MARKDOWN)),
)
timestamps = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())


def deep_json(levels: int) -> bytes:
    """JSON nested `levels` deep, an object outermost (as every topic's value is),
    written as text (no encoder recursion)."""
    opening = "".join("[" if n % 2 else '{"d":' for n in range(levels))
    closing = "".join("]" if n % 2 else "}" for n in reversed(range(levels)))
    return f"{opening}1{closing}".encode()


def deepest(topic: str) -> OutRecord:
    """The record nested `DEEPEST` deep, with a trace context to follow."""
    return OutRecord(topic, deep_json(DEEPEST), b"deep", headers_of(_TRACE))


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()  # lone surrogates become \\udXXX escapes


_TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
traceparents = st.one_of(
    st.none(),
    st.none(),
    st.just(_TRACE),
    st.from_regex(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", fullmatch=True),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
    poisoned(st.just(_TRACE)),
)


def headers_of(traceparent: str | None) -> tuple[tuple[str, bytes], ...]:
    if traceparent is None:
        return ()
    return (("traceparent", traceparent.encode("utf-8", "surrogatepass")),)


def _contents() -> st.SearchStrategy[dict[str, Any]]:
    payment = st.fixed_dictionaries(
        {"amount": st.integers(-5, 10**11), "notice_number": notice_numbers}
    )
    return st.fixed_dictionaries(
        {"subject": subjects, "markdown": markdowns},
        optional={
            "due_date": mostly(timestamps, st.text(max_size=30)),
            "payment_data": payment,
            "prescription_data": mostly(
                st.just({"nre": "050A00000000000"}), any_json, st.just(deep(40))
            ),
            "require_secure_channels": st.booleans(),
            "third_party_data": st.fixed_dictionaries({"id": mostly(_WORDS, st.text(max_size=10))}),
        },
    )


def submitted_values(service_id: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "sender_service_id": st.sampled_from([service_id, service_id, "svc-nobody"]),
            "fiscal_code": fiscal_codes,
            "content": _contents(),
        },
        optional={
            "id": mostly(_WORDS, st.text(min_size=1, max_size=70)),
            "time_to_live": st.integers(0, 10**7),
            "feature_level_type": st.sampled_from(["STANDARD", "ADVANCED", "PREMIUM"]),
            "created_at": mostly(timestamps, st.text(max_size=10)),
        },
    )


def upstream_records(service_id: str) -> st.SearchStrategy[tuple[bytes, str | None]]:
    """(value, traceparent) of records an upstream system might produce."""
    values = mostly(
        submitted_values(service_id).map(encode),
        any_json.map(encode),
        st.binary(max_size=40),
        st.just(encode(deep(60))),
    )
    return st.tuples(values, traceparents)


valid_payments = st.fixed_dictionaries(
    {
        "id": st.from_regex(r"[a-z0-9-]{1,40}", fullmatch=True),
        "debtorPosition": st.fixed_dictionaries(
            {"noticeNumber": st.from_regex(r"[0123][0-9]{17}", fullmatch=True)}
        ),
        "creditor": st.fixed_dictionaries({"idPA": st.from_regex(r"[0-9]{11}", fullmatch=True)}),
    },
    optional={
        "paymentInfo": st.fixed_dictionaries(
            {}, optional={"paymentDateTime": timestamps, "amount": st.integers(0, 10**9)}
        )
    },
)
payment_values = mostly(
    valid_payments.map(encode),
    st.fixed_dictionaries(
        {
            "id": st.text(min_size=1, max_size=40) | poisoned(st.just("evt")),
            "debtorPosition": st.fixed_dictionaries({"noticeNumber": notice_numbers}),
            "creditor": st.fixed_dictionaries(
                {"idPA": st.from_regex(r"[0-9]{11}", fullmatch=True) | st.text(max_size=12)}
            ),
        },
        optional={
            "paymentInfo": st.fixed_dictionaries(
                {},
                optional={
                    "paymentDateTime": timestamps | st.text(max_size=8),
                    "amount": json_leaves,
                },
            ),
            "extra": any_json,
        },
    ).map(encode),
    any_json.map(encode),
    st.binary(max_size=40),
    st.just(encode({"id": "deep", "x": deep(60)})),
)
payment_records = st.tuples(payment_values, traceparents)


def _event(kind: str, fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({"kind": st.just(kind), **fields})


def status_values(service_id: str) -> st.SearchStrategy[bytes]:
    """`messages.status` events of every kind, for the service with a receiver, for one
    without, and for one that does not exist; then wrong shapes."""
    ulids = st.from_regex(r"01[0-9A-HJKMNP-TV-Z]{24}", fullmatch=True)
    services = st.sampled_from([service_id, service_id, "svc-quiet", "svc-nobody"])
    common = {
        "message_id": mostly(ulids, st.text(min_size=1, max_size=40)),
        "sender_service_id": mostly(services, poisoned(st.just(service_id))),
        "seq": mostly(st.integers(1, 50), st.integers()),
        "at": mostly(timestamps, st.text(max_size=12)),
    }
    enums = {
        "status": st.sampled_from([s.value for s in MessageStatus]),
        "channel": st.sampled_from([c.value for c in Channel]),
        "notification_kind": st.sampled_from([k.value for k in NotificationKind]),
        "notification_status": st.sampled_from([s.value for s in NotificationStatus]),
    }
    events = st.one_of(
        _event("message", common | {"status": enums["status"]}),
        _event(
            "notification",
            common
            | {
                "channel": enums["channel"],
                "notification_kind": enums["notification_kind"],
                "status": enums["notification_status"],
            },
        ),
        _event("read", common),
        _event("paid", common | {"rpt_id": notice_numbers}),
    )
    return mostly(
        events.map(encode),
        _event("bogus", common).map(encode),
        any_json.map(encode),
        st.binary(max_size=40),
    )


def status_records(service_id: str) -> st.SearchStrategy[tuple[bytes, str | None]]:
    return st.tuples(status_values(service_id), traceparents)
