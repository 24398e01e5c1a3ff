"""Dashboards and alert rules only query metrics that vigil actually exports."""

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import streams.metrics  # noqa: F401 - registers the metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\bvigil_[a-z_]+")


def exported_names() -> set[str]:
    names = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    for family in REGISTRY.collect():
        for suffix in suffixes.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def test_dashboard_and_rules_reference_exported_metrics():
    exported = exported_names()
    dashboard = json.loads((DEPLOY / "grafana/dashboards/vigil.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((DEPLOY / "prometheus/rules.yml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    referenced = {m for e in exprs for m in METRIC.findall(e)}
    assert referenced, "no vigil metric referenced"
    missing = {m for m in referenced if m not in exported}
    assert not missing, f"dashboards/rules query metrics vigil does not export: {missing}"
