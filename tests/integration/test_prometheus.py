"""A real Prometheus scrapes a real worker, dispatcher and HTTP ingest while ads flow through the
real broker and Redis; every PromQL expression of every dashboard panel and alert rule is then
run through Prometheus' HTTP query API and must return data (or be listed in EXPECTED_EMPTY with
the reason). A panel that queries a metric nobody exports returns nothing and fails here.

The scenario makes every signal happen: synthetic ads with planted organisations (alerts,
clusters, indicators) posted through `vigil ingest --http`, a rejected POST, bad records and a
non-image photo straight onto ads.raw (dead letters, image errors), a missing-children bank photo
re-posted mirrored (bank match, critical alert), a feedback record, and three webhook receivers:
healthy, flaky (503 on every other request: retries) and gone (410: destination disabled,
alerts.dlq). Prometheus comes from Debian's package (`apt-get install -y prometheus`; .ci/run
installs it); without it these tests fail, they do not skip.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
import yaml

from streams.broker.kafkaio import produce, read_topic, worker_death
from streams.broker.topics import ensure_topics
from streams.config import load_settings, redis_prefix
from streams.evaluation.generate import generate_ads
from streams.processes import running_vigil, stop_process_group
from tests.conftest import PROMETHEUS_CHECKS

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROM_DIR = DEPLOY / "prometheus"
SECRET = "whsec_" + base64.b64encode(b"prometheus-test-secret-not-real").decode()
N_ADS = 150
# Grafana variables in expressions, replaced before querying: a window covering the whole run
GRAFANA_VARS = {"$__rate_interval": "10m", "${__rate_interval}": "10m", "$__interval": "10s",
                "${__interval}": "10s", "$__range": "10m", "${__range}": "10m"}
METRIC = re.compile(r"\b(?:vigil|process|python)_[a-z_]+|\bup\b")

# Alert rules whose condition is healthy in this scenario: they must return nothing (they would
# page on a healthy pipeline otherwise), and every metric they read must exist.
EXPECTED_EMPTY = {
    "VigilWorkerDown": "the worker is up and scraped",
    "VigilNoAdsIngested": "ads are flowing",
    "VigilConsumerLagGrowing": "lag stays far below 1000 records with a few hundred ads",
    "VigilCriticalAlertUndelivered": "the critical (bank-photo) alert reaches the healthy receiver",
    "VigilStoreDown": "the store is up and scraped",
    "VigilStoreFallingBehind": "a few hundred records are far below 5000",
    "VigilStoreStale": "records reach the store within seconds",
    "VigilConsoleErrors": "the console answers without server errors",
}
# Healthy here as a rule, but timing-dependent on a loaded 2-core machine: their metrics must
# exist; whether they fire is reported, not asserted.
EXPECTED_EMPTY_TIMING = {
    "VigilDeadLettersRising": "a handful of bad records among 150 ads is under the 10% threshold",
    "VigilStageSlow": "stage p99 is far under 500 ms unless the machine is starved",
    "VigilCriticalAlertLate": "the critical alert arrives within 60 s of ingest unless the machine is starved",
}


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} not found: install Debian's Prometheus (`apt-get install -y prometheus`, "
                    f"as .ci/run does); these tests check dashboards and rules against a real one")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- webhook receivers


class Receiver:
    """A webhook receiver on 127.0.0.1 answering `status_for(n)` to its n-th request (1-based)."""

    def __init__(self, status_for) -> None:
        self.status_for, self.requests, self.lock = status_for, [], threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append(json.loads(body))
                    status = receiver.status_for(len(receiver.requests))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- Prometheus


def prometheus_config(ports: dict[str, int], tmp: Path) -> Path:
    """deploy/prometheus/prometheus.yml with its targets on this run's ports, scraping every 1 s."""
    config = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROM_DIR / f) for f in config["rule_files"]]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == set(ports), f"the shipped config's jobs {jobs} are not the processes run here"
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{ports[job['job_name']]}"]}]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.contextmanager
def running_prometheus(config: Path, tmp: Path):
    port = free_port()
    log_path = tmp / "prometheus.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [require("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited: {log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:
                if resp.status == 200:
                    break
            assert time.monotonic() < deadline, "prometheus not ready within 60 s"
            time.sleep(0.3)
        yield url
    finally:
        stop_process_group(proc, timeout_s=15)


def api(url: str, path: str, **params) -> dict:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url}{path}?{query}", timeout=30) as resp:
        doc = json.loads(resp.read())
    assert doc["status"] == "success", doc
    return doc["data"]


def instant(url: str, expr: str) -> list[dict]:
    return api(url, "/api/v1/query", query=expr)["result"]


def has_value(result: list[dict]) -> bool:
    return any(not math.isnan(float(r["value"][1])) for r in result)


def substitute(expr: str) -> str:
    for name, value in sorted(GRAFANA_VARS.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(name, value)
    assert "$" not in expr, f"unsubstituted Grafana variable in {expr}"
    return expr


# ---------------------------------------------------------------- the scenario


@dataclass
class Live:
    prometheus: str
    logs: dict[str, Path]
    ads: list[dict]
    scored: list[dict]
    receivers: dict[str, Receiver] = field(default_factory=dict)


def http_post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


CONSOLE_PASSWORD = "prometheus-test-analyst-pw"


def browse_console(base: str, scored: list[dict]) -> None:
    """Log in to the console and use it like an analyst (inbox, an alert, searches, a wrong
    login), so its request-latency and login series have data."""
    import http.cookiejar

    wait_for("the console", lambda: http_get(f"{base}/healthz") == 200, 60)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{base}/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def post_login(password: str) -> int:
        body = urllib.parse.urlencode({"name": "prom", "password": password, "csrf_token": token, "next": "/"})
        try:
            return opener.open(f"{base}/login", data=body.encode(), timeout=30).status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert post_login("not the password") == 401
    assert post_login(CONSOLE_PASSWORD) == 200  # followed the redirect to the inbox
    phone = next(p for r in scored for p in r["entities"]["phones"])
    for path in ("/", "/search?" + urllib.parse.urlencode({"q": phone}), "/search?q=available",
                 "/api/alerts", "/alerts/al_missing"):
        with contextlib.suppress(urllib.error.HTTPError):
            opener.open(base + path, timeout=30).read()


def http_get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def wait_for(what: str, condition, timeout_s: float, check=None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if check is not None and (why := check()):
            raise AssertionError(why)
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def bank_photo_ad(stack, settings) -> dict:
    """Puts a photo in the missing_children bank; returns a benign ad carrying it mirrored."""
    from PIL import Image, ImageOps
    from skimage import data

    from streams.banks.store import BankStore, entry_for_image

    photo = Image.fromarray(data.rocket()).convert("RGB")
    BankStore(redis.Redis.from_url(stack.redis_url), redis_prefix(settings)).add_entries(
        [entry_for_image("missing_children", "mc-prom", photo, case_id="SYN-CASE-PROM")])
    buf = io.BytesIO()
    ImageOps.mirror(photo).resize((300, 200)).save(buf, "JPEG", quality=60)
    return {"ad_id": "prom-bank-photo", "source": "test", "posted_at": "2026-11-01T12:00:00Z",
            "title": "Bicycle for sale", "body": "Blue city bike, good tyres, pick up downtown.",
            "location": {"city": "Reno", "region": "NV", "country": "US"},
            "images": [{"data_b64": base64.b64encode(buf.getvalue()).decode()}]}


@pytest.fixture(scope="module")
def live(stack, tmp_path_factory):
    require("prometheus")
    tmp = tmp_path_factory.mktemp("prometheus")
    prefix = f"t{uuid.uuid4().hex[:10]}."
    receivers = {"healthy": Receiver(lambda n: 200), "flaky": Receiver(lambda n: 503 if n % 2 else 200),
                 "gone": Receiver(lambda n: 410)}
    with pytest.MonkeyPatch.context() as mp, contextlib.ExitStack() as cleanup:
        for r in receivers.values():
            cleanup.callback(r.stop)
        mp.setenv("VIGIL_TOPIC_PREFIX", prefix)
        settings = load_settings()
        ensure_topics(settings)
        bank_ad = bank_photo_ad(stack, settings)

        config = tmp / "dispatch.yaml"
        config.write_text(yaml.safe_dump({"group_wait_s": 0, "group_interval_s": 1, "destinations": [
            {"name": name, "url": f"http://127.0.0.1:{r.port}/hook", "secret_env": "VIGIL_TEST_SECRET",
             "min_severity": "low", "backoff_base_s": 0.1, "fast_budget_s": 1, "max_attempts": 6}
            for name, r in receivers.items()]}))
        ports = {"vigil-worker": free_port(), "vigil-dispatch": free_port(), "vigil-ingest": free_port(),
                 "vigil-store": free_port(), "vigil-console": free_port()}
        env = {**os.environ, "VIGIL_TOPIC_PREFIX": prefix, "VIGIL_LAG_INTERVAL_S": "1",
               "VIGIL_TEST_SECRET": SECRET, "PYTHONUNBUFFERED": "1",
               "VIGIL_STORE_URL": f"sqlite:///{tmp / 'store.db'}", "VIGIL_RETENTION_DAYS": "0"}
        logs = {name: tmp / f"{name}.log" for name in ("worker", "dispatch", "ingest", "store", "console")}
        worker = cleanup.enter_context(running_vigil(
            ["--log-level", "info", "worker", "--metrics-port", str(ports["vigil-worker"])], env,
            logs["worker"], cwd=REPO))
        procs = {"worker": worker}
        procs["dispatch"] = cleanup.enter_context(running_vigil(
            ["dispatch", "--config", str(config), "--metrics-port", str(ports["vigil-dispatch"])], env,
            logs["dispatch"], cwd=REPO))
        procs["ingest"] = cleanup.enter_context(running_vigil(
            ["ingest", "--http", "--port", str(ports["vigil-ingest"])], env, logs["ingest"], cwd=REPO))
        # the store (SQLite) and the console over it, with an analyst who browses it below
        procs["store"] = cleanup.enter_context(running_vigil(
            ["--log-level", "info", "store", "--metrics-port", str(ports["vigil-store"])], env, logs["store"],
            cwd=REPO))
        console_port = free_port()
        add_user = subprocess.run(
            [sys.executable, "-m", "streams.cli", "console", "user", "add", "prom", "--password-stdin"],
            input=CONSOLE_PASSWORD + "\n", env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert add_user.returncode == 0, add_user.stderr
        procs["console"] = cleanup.enter_context(running_vigil(
            ["--log-level", "info", "console", "--port", str(console_port),
             "--metrics-port", str(ports["vigil-console"])], env, logs["console"], cwd=REPO))
        prometheus = cleanup.enter_context(running_prometheus(prometheus_config(ports, tmp), tmp))
        died = worker_death(worker, logs["worker"])

        ingest = f"http://127.0.0.1:{ports['vigil-ingest']}"

        def ingest_up() -> bool:
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{ingest}/metrics", timeout=2):
                return True
            return False

        wait_for("the ingest endpoint", ingest_up, 60)
        # the dispatcher's delivery counters exist at 0 from its start: Prometheus must hold a
        # sample of them before the first alert, or a dead letter sent before its first scrape
        # is the series' first value and rate() sees no increase (the likeliest cause of one CI
        # run's failure of the dead-letter rule)
        wait_for("Prometheus to scrape the dispatcher's counters at 0", lambda: bool(instant(
            prometheus, f'count(vigil_webhook_deliveries_total{{outcome="dead_lettered"}}) >= {len(receivers)}')), 60)
        # warm-up: one ad scored means the worker has joined its group and loaded its model, so
        # the latencies below measure the pipeline, not the start-up
        ads = [{k: v for k, v in ad.items() if k != "ground_truth"}
               for ad in generate_ads(N_ADS, seed=5, difficulty="easy", images=True)]
        assert http_post(f"{ingest}/ads", json.dumps(ads[0]).encode()) == 202
        read_topic(stack.kafka_bootstrap, settings.topics.scored, timeout_s=180, abort_if=died,
                   until=lambda recs: len(recs) >= 1)
        # and Prometheus has a sample of the worker from before the burst, so rates see it
        wait_for("Prometheus to scrape the warm-up ad",
                 lambda: bool(instant(prometheus, "sum(vigil_ads_scored_total) >= 1")), 60)
        for i in range(1, N_ADS, 25):
            assert http_post(f"{ingest}/ads", json.dumps(ads[i:i + 25]).encode()) == 202
        assert http_post(f"{ingest}/ads", json.dumps(bank_ad).encode()) == 202
        assert http_post(f"{ingest}/ads", b'{"ad_id": "no-fields"}') == 400
        not_an_image = {**ads[3], "ad_id": "prom-bad-image",
                        "images": [{"data_b64": base64.b64encode(b"<html>not an image</html>").decode()}]}
        produce(stack.kafka_bootstrap, settings.topics.raw, [
            (None, b"this is not json {"),
            (b"prom-bad-image", json.dumps(not_an_image).encode()),
        ])
        produce(stack.kafka_bootstrap, settings.topics.feedback,
                [(b"al_x", json.dumps({"alert_id": "al_x", "label": True}).encode())])
        wanted = {ad["ad_id"] for ad in ads} | {bank_ad["ad_id"], "prom-bad-image"}
        scored = read_topic(stack.kafka_bootstrap, settings.topics.scored, timeout_s=300, abort_if=died,
                            until=lambda recs: {r["ad_id"] for r in recs} >= wanted)
        assert {r["ad_id"] for r in scored} >= wanted, "not every ad was scored"

        def delivered() -> bool:
            received = {name: r.requests for name, r in receivers.items()}
            critical = any(a.get("severity") == "critical" for req in received["healthy"]
                           for a in req.get("alerts", [req.get("alert") or {}]))
            return critical and len(received["flaky"]) >= 2 and len(received["gone"]) >= 1
        wait_for("webhook deliveries (healthy with the critical alert, flaky retried, gone)",
                 delivered, 120)
        browse_console(f"http://127.0.0.1:{console_port}", scored)

        def scraped() -> bool:  # Prometheus holds the final counts of every process
            ready = [f'sum(vigil_ads_scored_total) >= {len(wanted)}',
                     'sum(vigil_webhook_deliveries_total{outcome="delivered"}) > 0',
                     'sum(vigil_ads_ingested_total) > 0',
                     'max(vigil_webhook_destination_disabled) == 1',
                     # counted once alerts.dlq acknowledged the record, after the 410 disabled the
                     # destination: the dead-letter rule's rate needs it scraped
                     'sum(vigil_webhook_deliveries_total{outcome="dead_lettered"}) > 0',
                     'count(vigil_consumer_lag_records{topic="alerts"}) > 0',
                     'count(vigil_dlq_records) >= 2',
                     f'sum(vigil_store_records_total{{topic="ads.scored", outcome="stored"}}) >= {len(wanted)}',
                     'count(vigil_consumer_lag_records{topic="ads.scored"}) > 0',
                     'sum(vigil_console_request_seconds_count{route="/search"}) > 0']
            waiting[:] = [q for q in ready if not instant(prometheus, q)]
            return not waiting
        waiting: list[str] = []
        with contextlib.suppress(AssertionError):
            wait_for("Prometheus to scrape the final counts", scraped, 60)
        exited = {name: logs[name].read_text()[-3000:] for name, p in procs.items() if p.poll() is not None}
        assert not waiting, f"Prometheus never saw: {waiting}; processes that exited: {exited}"
        time.sleep(3)  # a few more scrapes: rates need two samples after the last change
        yield Live(prometheus, logs, ads + [bank_ad], scored, receivers)


# ---------------------------------------------------------------- what is checked


def dashboard_panels() -> list[tuple[str, dict]]:
    out = []
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        out += [(f"{board['title']} :: {panel['title']}", panel) for panel in board["panels"]]
    return out


def alert_rules() -> list[dict]:
    doc = yaml.safe_load((PROM_DIR / "rules.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def metrics_present(url: str, expr: str) -> list[str]:
    """Metric names in `expr` that Prometheus has no series for."""
    return [m for m in sorted(set(METRIC.findall(expr))) if not instant(url, f"count({{__name__=\"{m}\"}})")]


PANELS = dashboard_panels()


@pytest.mark.parametrize(("name", "panel"), PANELS, ids=[n for n, _ in PANELS])
def test_dashboard_panel_returns_data(live, request, name, panel):
    lines = []
    for target in panel["targets"]:
        expr = substitute(target["expr"])
        missing = metrics_present(live.prometheus, expr)
        assert not missing, f"panel {name!r} queries metrics nobody exports: {missing} in {expr}"
        result = instant(live.prometheus, expr)
        assert has_value(result), f"panel {name!r} target {target['refId']} returned no data: {expr}"
        lines.append(f"{target['refId']}: {len(result)} series")
    print(f"checked panel {name}: {', '.join(lines)}")
    request.config.stash.setdefault(PROMETHEUS_CHECKS, []).append(f"panel  {name}  ({', '.join(lines)})")


RULES = alert_rules()


@pytest.mark.parametrize("rule", RULES, ids=[r["alert"] for r in RULES])
def test_alert_rule_expression(live, request, rule):
    name, expr = rule["alert"], rule["expr"]
    missing = metrics_present(live.prometheus, expr)
    assert not missing, f"rule {name} reads metrics nobody exports: {missing}"
    result = instant(live.prometheus, expr)
    if name in EXPECTED_EMPTY:
        assert not result, f"rule {name} fires on a healthy pipeline: {result}"
        outcome = f"empty as expected ({EXPECTED_EMPTY[name]})"
    elif name in EXPECTED_EMPTY_TIMING:
        outcome = (f"{'FIRING' if result else 'empty'} (expected empty: {EXPECTED_EMPTY_TIMING[name]})")
    else:
        assert has_value(result), f"rule {name} returned no data: {expr}"
        outcome = f"{len(result)} series"
    print(f"checked rule {name}: {outcome}")
    request.config.stash.setdefault(PROMETHEUS_CHECKS, []).append(f"rule   {name}  {outcome}")


def test_every_rule_evaluates_without_error(live):
    groups = api(live.prometheus, "/api/v1/rules")["groups"]
    loaded = {r["name"]: r for g in groups for r in g["rules"]}
    assert set(loaded) == {r["alert"] for r in RULES}
    for name, rule in loaded.items():
        assert rule["health"] in ("ok", "unknown"), (name, rule.get("lastError"))
        assert not rule.get("lastError"), (name, rule["lastError"])


def test_every_process_is_scraped(live):
    up = {r["metric"]["job"]: r["value"][1] for r in instant(live.prometheus, 'up{job=~"vigil-.*"}')}
    assert up == {"vigil-worker": "1", "vigil-dispatch": "1", "vigil-ingest": "1", "vigil-store": "1",
                  "vigil-console": "1"}
    # process metrics come with every /metrics
    jobs = {r["metric"]["job"] for r in instant(live.prometheus, "process_resident_memory_bytes")}
    assert jobs == set(up)


def test_the_check_fails_on_a_metric_nobody_exports(live):
    expr = substitute("sum(rate(vigil_ads_scored_totl[$__rate_interval]))")
    assert metrics_present(live.prometheus, expr) == ["vigil_ads_scored_totl"]
    assert not has_value(instant(live.prometheus, expr))


def test_labels_carry_no_ids_or_phone_numbers(live):
    series = api(live.prometheus, "/api/v1/series", **{"match[]": '{__name__=~"vigil_.*"}'})
    values = {v for s in series for k, v in s.items() if k != "__name__"}
    ad_ids = {ad["ad_id"] for ad in live.ads}
    phones = {p for r in live.scored for p in r["entities"]["phones"]}
    assert values and not values & (ad_ids | phones), values & (ad_ids | phones)
    topics = {s["topic"] for s in series if "topic" in s}
    assert topics <= {"ads.raw", "ads.dlq", "ads.scored", "alerts", "alerts.dlq"}, "topic labels without the run prefix"
    routes = {s["route"] for s in series if "route" in s}
    assert "/alerts/{alert_id}" in routes and not any("?" in r or "al_missing" in r for r in routes)


# ---------------------------------------------------------------- config checks


@pytest.mark.parametrize("name", ["prometheus.yml", "prometheus-compose.yml"])
def test_promtool_check_config(name):
    out = subprocess.run([require("promtool"), "check", "config", name], cwd=PROM_DIR,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_check_config_kubernetes(tmp_path):
    """Debian builds Prometheus without Kubernetes discovery, so promtool cannot parse
    kubernetes_sd_configs: the rest of the file (relabelling, rules) is checked with the pod
    discovery swapped for a static target; tests/unit/test_deploy_config.py checks the discovery
    block and emulates the relabelling on the manifests' pods."""
    config = yaml.safe_load((PROM_DIR / "prometheus-k8s.yml").read_text())
    for job in config["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs")
        job["static_configs"] = [{"targets": ["127.0.0.1:19100"]}]
    config["rule_files"] = [str(PROM_DIR / f) for f in config["rule_files"]]
    path = tmp_path / "prometheus-k8s.yml"
    path.write_text(yaml.safe_dump(config))
    out = subprocess.run([require("promtool"), "check", "config", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_check_rules():
    out = subprocess.run([require("promtool"), "check", "rules", "rules.yml"], cwd=PROM_DIR,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(RULES)} rules found" in out.stdout


# ---------------------------------------------------------------- logs


def test_process_logs_are_json_lines_without_phone_numbers_or_ad_text(live):
    phones = {p for r in live.scored for p in r["entities"]["phones"]}
    assert phones, "the scenario must carry phone numbers for this check to mean anything"
    forbidden = phones | {p.lstrip("+") for p in phones} | {p[-10:] for p in phones}
    texts = [s for ad in live.ads for s in (ad.get("title"), (ad.get("body") or "")[:40]) if s and len(s) > 12]
    saw_ad_id = False
    for name, path in live.logs.items():
        content = path.read_text(errors="replace")
        for n, line in enumerate(content.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                pytest.fail(f"{name} log line {n} is not JSON: {line[:300]}")
            assert isinstance(record, dict) and {"ts", "level", "logger", "msg"} <= set(record), line
            saw_ad_id |= name == "worker" and bool(record.get("ad_id"))
        leaked = [p for p in forbidden if p in content]
        assert not leaked, f"{name} log holds phone numbers: {leaked[:3]}"
        leaked_text = [t for t in texts if t in content]
        assert not leaked_text, f"{name} log holds ad text: {leaked_text[:2]}"
    assert saw_ad_id, "worker log lines carry ad ids (alerts, dead letters)"

