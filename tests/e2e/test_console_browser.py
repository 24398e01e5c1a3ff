"""The console end to end in a real headless Chromium (Debian's chromium + chromedriver, Selenium):
ads go through a real worker onto ads.scored and alerts, `vigil store` consumes them from the
broker into SQLite, `vigil console` serves them, and an analyst logs in, opens the newest alert,
sees its evidence highlighted, opens its cluster, finds the same ads by a phone written another
way, gives feedback (read back from the feedback topic) and exports the cluster. Screenshots of
the inbox, the alert and the cluster land in .stack/screenshots/."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import desc, func, select

from streams.broker.kafkaio import produce, read_topic, worker_death
from streams.broker.topics import ensure_topics
from streams.config import load_settings
from streams.evaluation.generate import generate_ads
from streams.processes import running_vigil
from streams.store import schema
from streams.store.db import open_store_engine

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "e2e-analyst-password-9"
N_ADS = 160
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def browser(download_dir: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for tool in (CHROMIUM, CHROMEDRIVER):
        if not Path(tool).exists():
            pytest.fail(f"{tool} not found: install Debian's chromium and chromium-driver (as .ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='vigil-chromium-')}", "--window-size=1300,1100"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(download_dir),
                                              "download.prompt_for_download": False})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait_until(what: str, condition, timeout_s: float = 60, check=None):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if check is not None and (why := check()):
            raise AssertionError(why)
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_an_analyst_works_an_alert_in_a_real_browser(stack, topic_prefix, tmp_path):
    from selenium.webdriver.common.by import By

    settings = load_settings()
    ensure_topics(settings)
    shots = settings.stack_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    port = settings.console_port
    env = {**os.environ, "VIGIL_STORE_URL": store_url,
           "PYTHONUNBUFFERED": "1", "VIGIL_LAG_INTERVAL_S": "1",
           "VIGIL_RETENTION_DAYS": "0"}  # generated ads are posted in a fixed month: keep them whatever the date
    added = subprocess.run([sys.executable, "-m", "streams.cli", "console", "user", "add", "ana", "--role", "analyst",
                            "--password-stdin"], input=PASSWORD + "\n", env=env, cwd=REPO, capture_output=True,
                           text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    ads = [{k: v for k, v in ad.items() if k != "ground_truth"}
           for ad in generate_ads(N_ADS, seed=41, difficulty="easy", images=False)]
    produce(stack.kafka_bootstrap, settings.topics.raw, [(a["ad_id"].encode(), json.dumps(a).encode()) for a in ads])

    with running_vigil(["worker", "--metrics-port", "0"], env, tmp_path / "worker.log", cwd=REPO) as worker, \
            running_vigil(["store", "--metrics-port", "0"], env, tmp_path / "store.log", cwd=REPO) as store, \
            running_vigil(["console", "--port", str(port), "--metrics-port", "0"], env, tmp_path / "console.log",
                          cwd=REPO) as console:
        def died():
            for name, proc in (("worker", worker), ("store", store), ("console", console)):
                if proc.poll() is not None:
                    return f"{name} exited: {(tmp_path / f'{name}.log').read_text(errors='replace')[-2000:]}"
            return None

        scored = read_topic(stack.kafka_bootstrap, settings.topics.scored, timeout_s=300,
                            abort_if=worker_death(worker, tmp_path / "worker.log"),
                            until=lambda recs: len(recs) >= N_ADS)
        alerts = read_topic(stack.kafka_bootstrap, settings.topics.alerts, timeout_s=30, until=lambda recs: False)
        assert len(scored) == N_ADS and len(alerts) >= 3
        engine = open_store_engine(store_url)

        def stored() -> bool:
            with engine.connect() as conn:
                return (conn.scalar(select(func.count()).select_from(schema.ads)) == N_ADS
                        and conn.scalar(select(func.count()).select_from(schema.alerts)) == len(alerts))

        wait_until("the store to hold every scored ad and alert", stored, 120, died)
        base = f"http://127.0.0.1:{port}"

        def console_up() -> bool:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    return True
            except OSError:
                return False

        wait_until("the console", console_up, 60, died)
        with engine.connect() as conn:
            newest = conn.execute(select(schema.alerts.c.alert_id, schema.alerts.c.ad_id)
                                  .order_by(desc(schema.alerts.c.created_at), desc(schema.alerts.c.id))).first()

        downloads = tmp_path / "downloads"
        downloads.mkdir()
        driver = browser(downloads)
        try:
            # log in: the inbox is behind it
            driver.get(base + "/")
            assert "/login" in driver.current_url
            driver.find_element(By.ID, "name").send_keys("ana")
            driver.find_element(By.ID, "password").send_keys(PASSWORD)
            driver.find_element(By.ID, "login").click()
            wait_until("the inbox", lambda: driver.find_elements(By.ID, "inbox"))
            driver.save_screenshot(str(shots / "console-inbox.png"))
            rows = driver.find_elements(By.CSS_SELECTOR, "#inbox tbody tr")
            assert len(rows) == min(len(alerts), 50)

            # the newest alert is first; its evidence is highlighted and labelled
            driver.find_element(By.CSS_SELECTOR, "#inbox a.alert-link").click()
            assert driver.current_url.endswith("/alerts/" + newest.alert_id)
            record = next(r for r in scored if r["ad_id"] == newest.ad_id)
            evidence = {e["text"] for i in record["indicators"] for e in i["evidence"]}
            evidence |= {e["text"] for spans in record["entity_evidence"].values() for ent in spans
                         for e in ent["evidence"]}
            marks = driver.find_elements(By.CSS_SELECTOR, "#ad mark.ev")
            assert marks, "no evidence highlighted"
            labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#ad .ev-label")]
            assert {i["id"] for i in record["indicators"]} <= set(labels)
            marked = " ".join(m.text for m in marks)
            for text in evidence:
                for word in text.split():
                    assert word in marked, (word, text)
            driver.save_screenshot(str(shots / "console-alert.png"))

            # feedback: a true positive, seen on the alert and on the feedback topic
            driver.find_element(By.ID, "feedback-note").send_keys("seen in the browser test")
            driver.find_element(By.ID, "feedback-true").click()
            wait_until("the feedback notice", lambda: driver.find_elements(By.ID, "notice"))
            assert "true positive" in driver.find_element(By.ID, "events").text
            feedback = read_topic(stack.kafka_bootstrap, settings.topics.feedback, timeout_s=60,
                                  until=lambda recs: any(r.get("alert_id") == newest.alert_id for r in recs))
            (sent,) = [r for r in feedback if r.get("alert_id") == newest.alert_id]
            assert sent["label"] is True and sent["analyst"] == "ana" and sent["ad_id"] == newest.ad_id
            assert sent["note"] == "seen in the browser test"

            # its cluster: every ad scored into it, its phones, the chart
            driver.find_element(By.ID, "cluster-link").click()
            wait_until("the cluster page", lambda: driver.find_elements(By.ID, "cluster"))
            cluster_id = record["cluster"]["cluster_id"]
            shown = {a.get_attribute("href").rsplit("/", 1)[1]
                     for a in driver.find_elements(By.CSS_SELECTOR, "#cluster-ads tbody a")}
            assert {r["ad_id"] for r in scored if r["cluster"]["cluster_id"] == cluster_id} <= shown
            assert len(driver.find_elements(By.CSS_SELECTOR, "#timeline svg circle")) == len(shown)
            # each template two or more of its ads share, in readable form (fixed words, slots)
            by_template = Counter(r["link"]["template_id"] for r in scored if r["ad_id"] in shown)
            shared = {t for t, n in by_template.items() if n >= 2}
            forms = driver.find_elements(By.CSS_SELECTOR, "#cluster-templates .template-form")
            assert len(forms) == min(len(shared), 5)
            for form in forms:
                template_id = form.find_element(By.TAG_NAME, "code").text
                assert template_id in shared
                assert form.find_element(By.CLASS_NAME, "template-text").text.strip()
            driver.save_screenshot(str(shots / "console-cluster.png"))

            # export the cluster as CSV and JSON for a case file
            driver.find_element(By.ID, "export-csv").click()
            driver.find_element(By.ID, "export-json").click()
            files = wait_until("both exports", lambda: (sorted(p.name for p in downloads.iterdir()
                                                               if p.suffix in (".csv", ".json"))
                                                        if len(list(downloads.glob("*.csv"))) == 1
                                                        and len(list(downloads.glob("*.json"))) == 1 else None), 30)
            assert len(files) == 2
            case = json.loads(next(downloads.glob("*.json")).read_text())
            assert {a["ad_id"] for a in case["ads"]} == shown and case["exported_by"] == "ana"
            assert {f["template_id"] for f in case["template_forms"]} == {
                f.find_element(By.TAG_NAME, "code").text for f in forms}
            with open(next(downloads.glob("*.csv")), newline="", encoding="utf-8") as fh:
                assert {row["ad_id"] for row in csv.DictReader(fh)} == shown

            # a phone of the cluster, written another way, finds the same ads
            phone = max(record["cluster"]["phones"] or record["entities"]["phones"],
                        key=lambda p: sum(p in r["entities"]["phones"] for r in scored))
            national = phone[2:]
            box = driver.find_element(By.CSS_SELECTOR, "form.quick input[name=q]")
            box.send_keys(f"({national[:3]}) {national[3:6]} - {national[6:]}")
            box.submit()
            wait_until("search results", lambda: driver.find_elements(By.ID, "search-results"))
            found = {a.get_attribute("data-ad-id") for a in driver.find_elements(By.CSS_SELECTOR, "a.result-ad")}
            assert found == {r["ad_id"] for r in scored if phone in r["entities"]["phones"]}
            assert phone in driver.find_element(By.ID, "search-summary").text
            driver.save_screenshot(str(shots / "console-search.png"))
        finally:
            driver.quit()
        with engine.connect() as conn:
            actions = {a for (a,) in conn.execute(select(schema.audit_log.c.action)
                                                  .where(schema.audit_log.c.user_name == "ana"))}
        assert {"login", "view_inbox", "view_alert", "feedback", "view_cluster", "export", "search"} <= actions
    for name in ("console-inbox.png", "console-cluster.png"):
        assert (shots / name).stat().st_size > 10_000
    shutil.rmtree(downloads, ignore_errors=True)
