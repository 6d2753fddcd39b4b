"""deploy/observability/: the alert rules and the dashboard speak only of metrics
that some role exports, and the rules are well formed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

import worker.ingress.app
import worker.ops
import worker.roles.registry

ROOT = Path(__file__).resolve().parents[2] / "deploy" / "observability"
_NAME = re.compile(r"\bpostino_[a-z0-9_]+")
_ = (worker.ingress.app, worker.ops, worker.roles.registry)  # every role's metrics registered


def exported() -> set[str]:
    """Sample names of every Postino metric in the process's registry."""
    names: set[str] = set()
    for metric in REGISTRY.collect():
        if not metric.name.startswith("postino_"):
            continue
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
            "gauge": ("",),
        }[metric.type]
        names |= {metric.name + suffix for suffix in suffixes}
    return names


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((ROOT / "alerts.yaml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    document = json.loads((ROOT / "grafana-dashboard.json").read_text())
    return [t["expr"] for panel in document["panels"] for t in panel["targets"]]


def test_every_metric_the_alerts_and_the_dashboard_use_is_exported() -> None:
    used = {
        name
        for query in [r["expr"] for r in rules()] + dashboard_queries()
        for name in _NAME.findall(query)
    }
    assert used, "no metric found"
    assert sorted(used - exported()) == []


def test_the_alerts_cover_lag_dead_letters_callbacks_expiries_and_liveness() -> None:
    by_metric = {name for r in rules() for name in _NAME.findall(r["expr"])}
    for needed in (
        "postino_consumer_lag",
        "postino_dlq_records_total",
        "postino_callbacks_total",
        "postino_notifications_total",
        "postino_loops_stalled",
    ):
        assert needed in by_metric, needed
    for rule in rules():
        assert rule["alert"].startswith("Postino")
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]


def test_metric_names_follow_the_prometheus_conventions() -> None:
    for metric in REGISTRY.collect():
        if not metric.name.startswith("postino_"):
            continue
        if metric.type == "histogram":
            assert metric.name.endswith("_seconds"), metric.name
        assert not metric.name.endswith("_total") or metric.type == "counter"


def test_every_alert_links_its_runbook_section_on_the_docs_site() -> None:
    site = yaml.safe_load((ROOT.parents[1] / "mkdocs.yml").read_text())["site_url"]
    page = (ROOT.parents[1] / "docs" / "operators" / "alerts.md").read_text()
    sections = set(re.findall(r"^## (\w+) \{#([a-z0-9-]+)\}$", page, flags=re.MULTILINE))
    for rule in rules():
        anchor = rule["alert"].lower()
        assert rule["annotations"]["runbook_url"] == f"{site}operators/alerts/#{anchor}"
        assert (rule["alert"], anchor) in sections, f"no runbook section for {rule['alert']}"
