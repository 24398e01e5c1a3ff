"""deploy/ against real schemas and against what the code actually reads.

Nothing here can run Docker or a cluster, so the files are checked instead: the compose file
against the Compose spec's JSON schema (shipped by check-jsonschema), every Kubernetes manifest
against the Kubernetes schemas (shipped by kubernetes-validate, strict: unknown fields fail),
and all of them for agreement with the code: environment variable names, ports, partitions,
topic names, job names, CLI arguments. tests/integration/test_prometheus.py runs the queries.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import tomllib
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from prometheus_client import REGISTRY

import streams.console.metrics  # noqa: F401 - registers the console's metrics
import streams.dispatch.dispatcher  # noqa: F401 - registers the dispatcher's metrics
import streams.metrics  # noqa: F401 - registers the worker's metrics
import streams.store.metrics  # noqa: F401 - registers the store's metrics
from streams.cli import build_parser
from streams.config import Topics

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
METRIC = re.compile(r"\bvigil_[a-z_]+")
K8S_VERSION = "1.30.0"
VIGIL_SERVICES = ("worker", "dispatcher", "ingest", "store", "console")
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
K8S_FILES = sorted((DEPLOY / "k8s").glob("*.yaml"))


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def compose() -> dict:
    return load_yaml(DEPLOY / "docker-compose.yml")


def k8s_docs() -> list[tuple[str, dict]]:
    return [(f"{p.name}:{d['kind']}/{d['metadata']['name']}", d)
            for p in K8S_FILES for d in yaml.safe_load_all(p.read_text()) if d]


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in DASHBOARDS for panel in json.loads(p.read_text())["panels"]
            for t in panel["targets"]]


def rule_exprs() -> list[str]:
    rules = load_yaml(DEPLOY / "prometheus" / "rules.yml")
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def exported_names() -> set[str]:
    names = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",),
                "info": ("_info",)}
    for family in REGISTRY.collect():
        for suffix in suffixes.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def env_names_read_by_code() -> set[str]:
    """Environment variables the code reads (os.environ.get / os.environ[...] / _env(...))."""
    pattern = re.compile(r"""(?:environ\.get|environ\[|_env)\(?\s*["']([A-Z][A-Z0-9_]+)["']""")
    return {m for p in (REPO / "streams").glob("*.py") for m in pattern.findall(p.read_text())}


# ---------------------------------------------------------------- dashboards and rules


def test_dashboard_and_rules_reference_exported_metrics():
    exported = exported_names()
    referenced = {m for e in dashboard_exprs() + rule_exprs() for m in METRIC.findall(e)}
    assert len(referenced) > 20, referenced
    missing = {m for m in referenced if m not in exported}
    assert not missing, f"dashboards/rules query metrics vigil does not export: {missing}"


def test_the_metric_check_would_catch_a_typo():
    assert "vigil_ads_scored_totl" not in exported_names()
    assert "vigil_ads_scored_total" in exported_names()


def test_metric_names_follow_prometheus_conventions():
    for family in REGISTRY.collect():
        if not family.name.startswith("vigil_"):
            continue
        assert re.fullmatch(r"vigil_[a-z0-9_]+", family.name), family.name
        if family.type == "histogram":
            assert family.name.endswith(("_seconds", "_size")), f"{family.name}: base unit?"
        if family.type == "gauge":
            assert not family.name.endswith("_total"), family.name
        forbidden = {"ad_id", "alert_id", "phone", "email", "cluster_id", "text", "url", "body"}
        for sample in family.samples:
            assert not forbidden & set(sample.labels), (family.name, sample.labels)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_uses_the_datasource_variable(path):
    board = json.loads(path.read_text())
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    titles = [p["title"] for p in board["panels"]]
    assert len(titles) == len(set(titles)), "panel titles name the checks: keep them unique"
    assert len({p["id"] for p in board["panels"]}) == len(titles)
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", panel["datasource"])["uid"] == "${datasource}"
    text = path.read_text()
    assert "vigil-prometheus" not in text, "dashboards must not hard-code the datasource uid"


def test_dashboards_cover_pipeline_detection_and_delivery():
    exprs = " ".join(dashboard_exprs())
    for metric in ("vigil_consumer_lag_records", "vigil_stage_seconds_bucket", "vigil_dlq_records",
                   "vigil_ingest_to_alert_delivered_seconds_bucket", "vigil_alerts_total",
                   "vigil_indicator_hits_total", "vigil_bank_matches_total", "vigil_cluster_joins_total",
                   "vigil_webhook_parked_deliveries", "vigil_webhook_breaker_open",
                   "vigil_webhook_destination_disabled", "vigil_webhook_deliveries_total"):
        assert metric in exprs, metric


def test_topic_labels_in_queries_are_vigil_topics():
    topics = set(vars(Topics()).values())
    used = {m for e in dashboard_exprs() + rule_exprs() for m in re.findall(r'topic="([^"]+)"', e)}
    assert used and used <= topics, used - topics


def test_rules_cover_the_issue():
    names = {r["alert"] for g in load_yaml(DEPLOY / "prometheus" / "rules.yml")["groups"] for r in g["rules"]}
    for wanted in ("VigilConsumerLagGrowing", "VigilNoAdsIngested", "VigilDeadLettersRising",
                   "VigilWebhookFailures", "VigilCriticalAlertLate", "VigilCriticalAlertUndelivered"):
        assert wanted in names


# ---------------------------------------------------------------- Grafana provisioning


def test_grafana_provisioning_matches_compose():
    datasources = load_yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yaml")
    providers = load_yaml(DEPLOY / "grafana/provisioning/dashboards/vigil.yaml")
    assert datasources["apiVersion"] == 1 and providers["apiVersion"] == 1
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    mounts = compose()["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
    for mount in mounts:
        assert (DEPLOY / mount.split(":")[0]).exists(), mount


# ---------------------------------------------------------------- docker compose


def compose_schema() -> dict:
    ref = importlib.resources.files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json"
    return json.loads(ref.read_text())


def test_compose_file_validates_against_the_compose_spec():
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose())]
    assert not errors, errors


def test_the_compose_schema_check_would_catch_a_typo():
    schema = compose_schema()
    doc = compose()
    doc["services"]["worker"]["deploy"]["replica"] = 2
    assert list(jsonschema.validators.validator_for(schema)(schema).iter_errors(doc))


def test_compose_has_the_whole_system_and_binds_loopback():
    services = compose()["services"]
    assert {"kafka", "redis", "worker", "dispatcher", "ingest", "prometheus", "grafana"} <= set(services)
    assert services["worker"]["deploy"]["replicas"] >= 2
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_compose_and_k8s_settings_are_ones_the_code_reads():
    read = env_names_read_by_code()
    routing = load_yaml(DEPLOY / "dispatch.example.yaml")
    secrets = {d["secret_env"] for d in routing["destinations"]}
    for name in VIGIL_SERVICES:
        env = compose()["services"][name]["environment"]
        unknown = set(env) - read - secrets
        assert not unknown, f"compose {name} sets variables nothing reads: {unknown}"
    k8s_routing = yaml.safe_load(next(d for _, d in k8s_docs() if d["metadata"]["name"] == "vigil-dispatch"
                                      and d["kind"] == "ConfigMap")["data"]["dispatch.yaml"])
    k8s_secrets = {d["secret_env"] for d in k8s_routing["destinations"]}
    for where, doc in k8s_docs():
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "vigil-config":
            assert not set(doc["data"]) - read, (where, set(doc["data"]) - read)
        for container in pod_spec(doc).get("containers", []):
            names = {e["name"] for e in container.get("env", [])}
            assert not names - read - k8s_secrets, (where, names - read - k8s_secrets)


def test_the_env_name_scan_finds_the_settings():
    read = env_names_read_by_code()
    assert {"KAFKA_BOOTSTRAP", "REDIS_URL", "VIGIL_PARTITIONS", "VIGIL_METRICS_PORT",
            "VIGIL_DISPATCH_METRICS_PORT", "VIGIL_INGEST_PORT", "VIGIL_BIND"} <= read


def cli_defaults(monkeypatch) -> dict[str, int]:
    """Default metrics ports of each process, as the CLI parses them with no env override."""
    for name in ("VIGIL_METRICS_PORT", "VIGIL_DISPATCH_METRICS_PORT", "VIGIL_INGEST_PORT", "VIGIL_STORE_METRICS_PORT",
                 "VIGIL_CONSOLE_METRICS_PORT", "VIGIL_CONSOLE_PORT"):
        monkeypatch.delenv(name, raising=False)
    parser = build_parser()
    return {"worker": parser.parse_args(["worker"]).metrics_port,
            "dispatch": parser.parse_args(["dispatch"]).metrics_port,
            "ingest": parser.parse_args(["ingest", "--http"]).port,
            "store": parser.parse_args(["store"]).metrics_port,
            "console": parser.parse_args(["console"]).metrics_port}


def test_ports_agree_everywhere(monkeypatch):
    defaults = cli_defaults(monkeypatch)
    # local Prometheus scrapes the default ports
    local = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    targets = {j["job_name"]: j["static_configs"][0]["targets"][0] for j in local["scrape_configs"]}
    assert targets == {f"vigil-{k}": f"127.0.0.1:{v}" for k, v in defaults.items()}
    # compose: the env each process reads, the ports Prometheus scrapes
    services = compose()["services"]
    assert int(services["worker"]["environment"]["VIGIL_METRICS_PORT"]) == defaults["worker"]
    assert int(services["dispatcher"]["environment"]["VIGIL_DISPATCH_METRICS_PORT"]) == defaults["dispatch"]
    assert int(services["ingest"]["environment"]["VIGIL_INGEST_PORT"]) == defaults["ingest"]
    assert int(services["store"]["environment"]["VIGIL_STORE_METRICS_PORT"]) == defaults["store"]
    assert int(services["console"]["environment"]["VIGIL_CONSOLE_METRICS_PORT"]) == defaults["console"]
    console_port = build_parser().parse_args(["console"]).port
    assert int(services["console"]["environment"]["VIGIL_CONSOLE_PORT"]) == console_port
    scrape = {j["job_name"]: j for j in load_yaml(DEPLOY / "prometheus" / "prometheus-compose.yml")["scrape_configs"]}
    assert scrape["vigil-worker"]["dns_sd_configs"][0] == {
        "names": ["worker"], "type": "A", "port": defaults["worker"], "refresh_interval": "15s"}
    assert scrape["vigil-dispatch"]["static_configs"][0]["targets"] == [f"dispatcher:{defaults['dispatch']}"]
    assert scrape["vigil-ingest"]["static_configs"][0]["targets"] == [f"ingest:{defaults['ingest']}"]
    assert scrape["vigil-store"]["static_configs"][0]["targets"] == [f"store:{defaults['store']}"]
    assert scrape["vigil-console"]["static_configs"][0]["targets"] == [f"console:{defaults['console']}"]
    # Dockerfile exposes them, and the console's own port
    exposed = re.search(r"^EXPOSE (.+)$", (REPO / "Dockerfile").read_text(), re.M).group(1).split()
    assert sorted(map(int, exposed)) == sorted([*defaults.values(), console_port])
    # Kubernetes: annotation = container port = the port the process is told to use
    env_for = {"worker": "VIGIL_METRICS_PORT", "dispatch": "VIGIL_DISPATCH_METRICS_PORT",
               "ingest": "VIGIL_INGEST_PORT", "store": "VIGIL_STORE_METRICS_PORT",
               "console": "VIGIL_CONSOLE_METRICS_PORT"}
    for where, doc in k8s_docs():
        if doc["kind"] != "Deployment":
            continue
        component = doc["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        port = doc["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"]
        (container,) = pod_spec(doc)["containers"]
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env[env_for[component]] == port == str(defaults[component]), where
        assert [p["containerPort"] for p in container["ports"]][0] == int(port), where


def test_commands_in_deploy_files_parse_with_the_cli():
    parser = build_parser()
    services = compose()["services"]
    commands = [services[name]["command"] for name in VIGIL_SERVICES]
    commands += [c["args"] for _, d in k8s_docs() for c in pod_spec(d).get("containers", [])]
    assert len(commands) >= 6
    for argv in commands:
        args = parser.parse_args(argv)
        assert args.command in ("worker", "dispatch", "ingest", "store", "console"), argv


def test_dockerfile_installs_the_packages_and_runs_vigil():
    text = (REPO / "Dockerfile").read_text()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    for package in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        name = package.rstrip("*")
        assert f"COPY {name} ./{name}" in text, name
    assert 'ENTRYPOINT ["vigil"]' in text
    assert "FROM python:3.11" in text
    assert re.search(r"^USER (?!root)", text, re.M), "run as a non-root user"


# ---------------------------------------------------------------- Kubernetes


def pod_spec(doc: dict) -> dict:
    return doc.get("spec", {}).get("template", {}).get("spec", {})


@pytest.mark.parametrize(("where", "doc"), k8s_docs(), ids=[w for w, _ in k8s_docs()])
def test_k8s_manifest_validates_against_the_kubernetes_schema(where, doc):
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_k8s_schema_check_would_catch_a_typo():
    doc = next(d for _, d in k8s_docs() if d["kind"] == "Deployment")
    doc = json.loads(json.dumps(doc))
    pod_spec(doc)["containers"][0]["envFrm"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_workers_scale_with_partitions():
    docs = dict(k8s_docs())
    config = next(d for d in docs.values() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "vigil-config")
    partitions = int(config["data"]["VIGIL_PARTITIONS"])
    hpa = next(d for d in docs.values() if d["kind"] == "HorizontalPodAutoscaler")
    worker = next(d for d in docs.values() if d["kind"] == "Deployment" and d["metadata"]["name"] == "vigil-worker")
    assert hpa["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    assert hpa["spec"]["maxReplicas"] == partitions, "workers beyond the partition count idle"
    assert worker["spec"]["replicas"] <= partitions
    services = compose()["services"]
    assert int(services["worker"]["environment"]["VIGIL_PARTITIONS"]) == services["kafka"]["environment"][
        "KAFKA_NUM_PARTITIONS"]
    assert services["worker"]["deploy"]["replicas"] <= int(services["worker"]["environment"]["VIGIL_PARTITIONS"])


def relabel(labels: dict[str, str], configs: list[dict]) -> dict[str, str] | None:
    """Prometheus relabelling (keep and replace, the actions the k8s config uses)."""
    labels = dict(labels)
    for c in configs:
        value = c.get("separator", ";").join(labels.get(s, "") for s in c.get("source_labels", []))
        match = re.fullmatch(c.get("regex", "(.*)"), value)
        action = c.get("action", "replace")
        if action == "keep":
            if not match:
                return None
        elif action == "replace":
            if match:
                labels[c["target_label"]] = match.expand(
                    re.sub(r"\$(\d+)", r"\\g<\1>", c.get("replacement", "$1")))
        else:
            raise AssertionError(f"relabel action {action} not emulated here")
    return labels


def test_k8s_scrape_config_finds_every_component_with_the_local_job_names():
    config = load_yaml(DEPLOY / "prometheus" / "prometheus-k8s.yml")
    (job,) = config["scrape_configs"]
    (sd,) = job["kubernetes_sd_configs"]
    assert sd["role"] == "pod" and sd["namespaces"]["names"] == ["vigil"]
    local_jobs = {j["job_name"] for j in load_yaml(DEPLOY / "prometheus" / "prometheus.yml")["scrape_configs"]}
    found = set()
    for where, doc in k8s_docs():
        if doc["kind"] != "Deployment":
            continue
        assert doc["metadata"]["namespace"] == "vigil", where
        meta = doc["spec"]["template"]["metadata"]
        labels = {"__address__": "10.0.0.7", "__meta_kubernetes_namespace": "vigil",
                  "__meta_kubernetes_pod_name": "p"}
        labels |= {"__meta_kubernetes_pod_label_" + re.sub(r"[^a-z0-9]", "_", k): v for k, v in meta["labels"].items()}
        labels |= {"__meta_kubernetes_pod_annotation_" + re.sub(r"[^a-z0-9]", "_", k): v
                   for k, v in meta["annotations"].items()}
        out = relabel(labels, job["relabel_configs"])
        assert out is not None, f"{where} is not scraped"
        assert out["__address__"] == f"10.0.0.7:{meta['annotations']['prometheus.io/port']}"
        found.add(out["job"])
    assert found == local_jobs, "rules and dashboards expect the same job names everywhere"
