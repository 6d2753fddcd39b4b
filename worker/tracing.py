"""OpenTelemetry tracing, across Kafka: one trace per message from the HTTP request
through every role to the sender's callback.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is
set: then spans go to that OTLP/HTTP endpoint in batches (the standard `OTEL_*`
variables apply: headers, service name...). When off, every helper here returns at
its first line (`ENABLED` is False): no span, no header, no decode, no allocation.

How a trace crosses Kafka: a produced record carries the W3C `traceparent` (and
`tracestate`) of the span that produced it in its headers. A consumer opens one span
per poll batch (`<role> batch`) and, for each record that carries a context, a
`<role> process <topic>` span under it (linked to the batch span, ended with the
batch). The records a batch produces follow the record they came from: the runner
matches them by message id (`message_id`, or `id` of a submitted message) and gives
them that record's context; an unmatched one gets the batch's. Outbound calls (push,
webhooks) find their message's context the same way and send `traceparent` on.
Database work is one span per repository call (a statement group).

Trace context from outside chooses nothing. A request to the public edge (a sender,
a citizen, an operator) starts a new trace, sampled by Postino's own sampler; the
caller's `traceparent`, when well formed, is kept as a link of the server span. A
caller's `tracestate` is dropped: it would otherwise travel with the trace to other
parties (a citizen's read reached the sender's webhook with it). A `traceparent`
read from a Kafka record is used, and its trace id stored, only when it is well
formed (W3C version 00: lower-case hex, ids not all zero); `tracestate` from a
record is never read.

Nothing personal goes into a span: routes are templates, topics and roles are
names, message ids are opaque; fiscal codes, bodies and URLs' queries never.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Any

import msgspec
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from worker.core.records import Headers, OutRecord, Record

ENABLED = False
_provider: TracerProvider | None = None
_tracer: trace.Tracer | None = None
_PROPAGATOR = TraceContextTextMapPropagator()
#: W3C trace context, version 00: `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`.
_TRACEPARENT = re.compile(r"00-(?!0{32})([0-9a-f]{32})-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
#: message id -> context of the span that last processed one of its records.
_BY_MESSAGE: OrderedDict[str, Context] = OrderedDict()
_BY_MESSAGE_MAX = 20_000


def wanted(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure(role: str, version: str, exporter: SpanExporter | None = None) -> bool:
    """Switch tracing on when the OTLP endpoint is set (or with `exporter`, in tests:
    spans exported one by one). Returns whether tracing is on."""
    global ENABLED, _provider, _tracer
    if exporter is None and not wanted():
        return False
    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME", "postino"), "postino.role": role}
        | {"service.version": version}
    )
    provider = TracerProvider(resource=resource)
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _provider, _tracer, ENABLED = provider, provider.get_tracer("postino", version), True
    return True


def shutdown() -> None:
    """Flush and switch off (end of process, end of a test)."""
    global ENABLED, _provider, _tracer
    provider, _provider, _tracer, ENABLED = _provider, None, None, False
    _BY_MESSAGE.clear()
    if provider is not None:
        provider.shutdown()


def _start(
    name: str, kind: SpanKind, parent: Context | None = None, **kw: Any
) -> contextlib.AbstractContextManager[Span]:
    assert _tracer is not None  # noqa: S101 - only called when ENABLED
    return _tracer.start_as_current_span(name, context=parent, kind=kind, **kw)


@contextlib.contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Context | None = None,
    attributes: Mapping[str, Any] | None = None,
    links: Sequence[Link] = (),
) -> Iterator[Span | None]:
    """A span under `parent` (default: the current one); nothing when tracing is off."""
    if not ENABLED:
        yield None
        return
    with _start(
        name, kind, parent, attributes=dict(attributes or {}), links=list(links)
    ) as current:
        yield current


def failed(current: Span | None, exc: BaseException) -> None:
    if current is not None:
        current.set_status(Status(StatusCode.ERROR, type(exc).__name__))


# -- W3C trace context in carriers: HTTP headers and Kafka record headers ---------------


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a well-formed `traceparent`; None for anything else."""
    if traceparent is None:
        return None
    found = _TRACEPARENT.fullmatch(traceparent)
    return found.group(1) if found else None


def _parent(traceparent: str | None) -> Context | None:
    """The context of a well-formed `traceparent`, without any `tracestate`."""
    if trace_id_of(traceparent) is None:
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent or ""})


def edge_links(headers: Mapping[str, str]) -> list[Link]:
    """The caller's span as a link of a new trace (never its parent), if well formed."""
    if not ENABLED:
        return []
    context = _parent(headers.get("traceparent"))
    if context is None:
        return []
    caller = get_current_span(context).get_span_context()
    return [Link(caller)] if caller.is_valid else []


#: An empty context: a span started under it begins a new trace.
NEW_TRACE = Context()


def inject_http(headers: MutableMapping[str, str], context: Context | None = None) -> None:
    if ENABLED:
        _PROPAGATOR.inject(headers, context=context)


def record_traceparent(headers: Headers) -> str | None:
    """The record's `traceparent` header when well formed (`tracestate` is never read)."""
    for key, value in headers:
        if key.lower() == "traceparent":
            text = value.decode("latin-1")
            return text if trace_id_of(text) is not None else None
    return None


def extract_record(record: Record) -> Context | None:
    return _parent(record_traceparent(record.headers))


def with_context(record: OutRecord, context: Context | None = None) -> OutRecord:
    """`record` with the trace context (default: the current one) in its headers,
    unless it carries one already."""
    if any(k == "traceparent" for k, _ in record.headers):
        return record
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    if not carrier:
        return record
    added = tuple((k, v.encode()) for k, v in carrier.items())
    return OutRecord(record.topic, record.value, record.key, (*record.headers, *added))


# -- following a message by its id -------------------------------------------------------


class _Ids(msgspec.Struct):
    message_id: str | None = None
    id: str | None = None


_IDS = msgspec.json.Decoder(_Ids)


def message_id_of(value: bytes | None) -> str | None:
    """The message id a record value (or a callback body) names, if any."""
    if not value:
        return None
    try:
        ids = _IDS.decode(value)
    except (msgspec.DecodeError, RecursionError):
        # RecursionError: a value nested deeper than msgspec goes (its DLQ copy too).
        return None
    found = ids.message_id or ids.id
    return found if isinstance(found, str) else None


def remember(message_id: str | None, context: Context) -> None:
    if message_id is None:
        return
    _BY_MESSAGE[message_id] = context
    _BY_MESSAGE.move_to_end(message_id)
    while len(_BY_MESSAGE) > _BY_MESSAGE_MAX:
        _BY_MESSAGE.popitem(last=False)


def context_of(message_id: str | None) -> Context | None:
    """The context of the span that last processed a record of this message."""
    if not ENABLED or message_id is None:
        return None
    return _BY_MESSAGE.get(message_id)


class BatchSpans:
    """The spans of one consumer poll batch (see the module docstring)."""

    def __init__(self, role: str, records: Sequence[Record]) -> None:
        assert _tracer is not None  # noqa: S101 - only built when ENABLED
        self._batch = _tracer.start_span(
            f"{role} batch",
            kind=SpanKind.CONSUMER,
            attributes={"postino.role": role, "messaging.batch.message_count": len(records)},
        )
        self.context = trace.set_span_in_context(self._batch)
        self._records: list[Span] = []
        #: Records whose span could not be made, and why (their loop dead-letters them).
        self.failed: list[tuple[Record, str]] = []
        link = [Link(self._batch.get_span_context())]
        for record in records:
            try:
                self._start_record(role, record, link)
            except Exception as exc:
                self.failed.append((record, f"{type(exc).__name__} while tracing the record"))

    def _start_record(self, role: str, record: Record, link: list[Link]) -> None:
        assert _tracer is not None  # noqa: S101 - only built when ENABLED
        parent = extract_record(record)
        if parent is None:
            return
        process = _tracer.start_span(
            f"{role} process {record.topic}",
            context=parent,
            kind=SpanKind.CONSUMER,
            links=link,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.kafka.destination.partition": record.partition,
                "messaging.kafka.message.offset": record.offset,
            },
        )
        self._records.append(process)
        remember(message_id_of(record.value), trace.set_span_in_context(process))

    def current(self) -> contextlib.AbstractContextManager[Span]:
        """The batch span as the current one (database spans nest under it)."""
        return trace.use_span(self._batch, end_on_exit=False)

    def follow(self, records: Sequence[OutRecord]) -> list[OutRecord]:
        """The produced records, each with the context of the record it came from (or,
        if that fails, as they are: a record is never held back for its trace)."""
        return [self._follow(r) for r in records]

    def _follow(self, record: OutRecord) -> OutRecord:
        try:
            return with_context(record, context_of(message_id_of(record.value)) or self.context)
        except Exception:
            return record

    def end(self, error: BaseException | None = None) -> None:
        for current in (*self._records, self._batch):
            if error is not None:
                failed(current, error)
            current.end()
