"""The metrics reference, from the Prometheus registry of a process with every role's
modules imported (what a role serves at `/metrics`, the client's own metrics apart)."""

from __future__ import annotations

from typing import Any

from devkit.reference.markdown import BANNER, code, table

_SERIES = {
    "counter": "{name}_total",
    "gauge": "{name}",
    "histogram": "{name}_bucket, {name}_sum, {name}_count",
}


def postino_metrics() -> list[Any]:
    """Every `postino_*` metric registered once the roles and the ingress are imported."""
    from prometheus_client import REGISTRY
    from prometheus_client.metrics import MetricWrapperBase

    # importing the ingress and the roles registers every metric they move
    import worker.ingress.app
    import worker.roles.registry  # noqa: F401

    # The registry keeps its collectors in a private map: the public API yields samples,
    # and a labelled metric with no children yet has none to show its labels by.
    collectors = [c for c in REGISTRY._collector_to_names if isinstance(c, MetricWrapperBase)]
    found = [c for c in collectors if c._name.startswith("postino_")]
    return sorted(found, key=lambda c: str(c._name))


def _row(metric: Any) -> tuple[str, ...]:
    series = _SERIES.get(metric._type, "{name}").format(name=metric._name)
    bounds = getattr(metric, "_upper_bounds", None)
    buckets = ", ".join(f"{b:g}" for b in bounds if b != float("inf")) if bounds else ""
    return (
        ", ".join(code(s) for s in series.split(", ")),
        metric._type,
        ", ".join(code(label) for label in metric._labelnames),
        metric._documentation + (f" (buckets, seconds: {buckets})" if buckets else ""),
    )


def render() -> str:
    parts = [
        BANNER.format(source="the metrics registered by worker/"),
        "# Metrics\n",
        "Every role serves these on its ops listener (`/metrics`, port"
        " `POSTINO_OPS_PORT`, 8081 by default), beside the Prometheus client's own"
        " `process_*` and `python_*` metrics. A role exports the ones it moves: the ingress"
        " the HTTP ones, each consumer its records, batches and lag. The alert rules in"
        " `deploy/observability/alerts.yaml` and the Grafana dashboard use only these"
        " (a test checks it); the [alerts page](../operators/alerts.md) says what to do"
        " when one fires.\n",
        table(("series", "type", "labels", "meaning"), (_row(m) for m in postino_metrics())),
    ]
    return "\n".join(parts).rstrip() + "\n"
