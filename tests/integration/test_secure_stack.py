"""vigil on the secure local stack: the real broker on SASL_SSL (SCRAM-SHA-512) and the real
Redis TLS-only with an ACL user, started by `vigil stack up --secure`.

The worker (its consumer group and idempotent producer included), `vigil ingest` from a file and over HTTP with
a bearer token, the dispatcher delivering to a webhook receiver and `vigil bank add` picked up by
a running worker all work over them; a wrong password, a missing CA file and a POST without a
valid token each fail with one clear line and lose nothing.

The secure stack runs beside the plain one, in `.stack/secure-tests`, on ports 400-499 of the
thousand VIGIL_KAFKA_PORT is in (23092 -> Kafka 23492, controller 23493, Redis 23479; another
base: VIGIL_SECURE_TEST_PORT_BASE), and is stopped at the end of the session.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shlex
import shutil
import socket
import ssl
import stat
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import redis
from PIL import Image, ImageOps
from skimage import data

from streams.broker.kafkaio import produce, read_topic, worker_death
from streams.broker.topics import ensure_topics
from streams.clients import kafka_admin, kafka_consumer, redis_client
from streams.config import load_settings
from streams.dispatch.webhooks import new_secret
from streams.evaluation.generate import generate_ads
from streams.model.feedback import read_topic_to_end
from streams.preflight import kafka_problem, redis_problem
from streams.processes import running_vigil, stop_process_group
from streams.stack import launcher
from streams.stack.certs import make_certificates

REPO = Path(__file__).resolve().parents[2]
BASE = int(os.environ.get("VIGIL_SECURE_TEST_PORT_BASE") or load_settings().kafka_port // 1000 * 1000 + 400)
KAFKA_PORT, CONTROLLER_PORT, REDIS_PORT = BASE + 92, BASE + 93, BASE + 79
INGEST_PORT, SINK_PORT = BASE + 80, BASE + 90
# settings of the caller's shell that must not leak into the secure stack's processes
CLEARED = ("KAFKA_BOOTSTRAP", "REDIS_URL", "VIGIL_TOPIC_PREFIX", "VIGIL_BIND", "VIGIL_STACK_MODE",
           "VIGIL_KAFKA_SECURITY", "VIGIL_KAFKA_SASL_MECHANISM", "VIGIL_KAFKA_USER", "VIGIL_KAFKA_PASSWORD_FILE",
           "VIGIL_KAFKA_CA_FILE", "VIGIL_REDIS_USER", "VIGIL_REDIS_PASSWORD_FILE", "VIGIL_REDIS_CA_FILE",
           "VIGIL_INGEST_TOKENS_FILE", "VIGIL_LOG_HASH_KEY", "VIGIL_LOG_HASH_KEY_FILE")


def vigil(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, check=False)


def read_env_file(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = shlex.split(line)[0].partition("=")
            found[name] = value
    return found


@pytest.fixture(scope="session")
def secure_stack() -> Iterator[dict[str, str]]:
    """The environment of a process on the secure stack (what `secure.env` says), with the stack
    started fresh for this session and stopped after it."""
    plain = load_settings()
    stack_dir = plain.stack_dir / "secure-tests"
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env |= {"VIGIL_STACK_DIR": str(stack_dir), "VIGIL_KAFKA_PORT": str(KAFKA_PORT),
            "VIGIL_KAFKA_CONTROLLER_PORT": str(CONTROLLER_PORT), "VIGIL_REDIS_PORT": str(REDIS_PORT),
            "PYTHONUNBUFFERED": "1"}
    vigil(["stack", "down"], env)  # what an interrupted session may have left
    shutil.rmtree(stack_dir / "secure", ignore_errors=True)
    (stack_dir / "kafka").mkdir(parents=True, exist_ok=True)
    libs = stack_dir / "kafka" / "libs"
    if not libs.exists():  # the jars the plain stack resolved from Maven Central, not a second copy
        libs.symlink_to(launcher._resolve_kafka_jars(plain).resolve(), target_is_directory=True)
    up = vigil(["stack", "up", "--secure"], env, timeout=240)
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"kafka 127.0.0.1:{KAFKA_PORT} healthy (SASL_SSL, SCRAM-SHA-512, user vigil-app)" in up.stdout
    assert f"redis rediss://127.0.0.1:{REDIS_PORT}/0 healthy (TLS only, ACL user vigil-app" in up.stdout
    env |= read_env_file(stack_dir / "secure" / "secure.env")
    try:
        yield env
    finally:
        down = vigil(["stack", "down"], env)
        assert "kafka (secure)" in down.stdout, down.stdout + down.stderr


@pytest.fixture
def secure_env(secure_stack, monkeypatch) -> dict[str, str]:
    """This test's environment on the secure stack (its own topic prefix), also applied to this
    process so in-process clients use it."""
    env = {**secure_stack, "VIGIL_TOPIC_PREFIX": f"s{uuid.uuid4().hex[:8]}."}
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def secret(env: dict[str, str], name: str) -> str:
    return (Path(env["VIGIL_STACK_DIR"]) / "secure" / "secrets" / name).read_text().strip()


def wrong_secret_file(tmp_path: Path) -> str:
    path = tmp_path / "wrong.password"
    path.write_text("not-the-password\n")
    path.chmod(0o600)
    return str(path)


def ad(ad_id: str, **extra) -> dict:
    return {"ad_id": ad_id, "source": "test", "posted_at": "2026-11-01T12:00:00Z", "title": "Bicycle for sale",
            "body": "Blue city bike, good tyres, pick up downtown.",
            "location": {"city": "Reno", "region": "NV", "country": "US"}, **extra}


def end_offsets(topic: str) -> int:
    consumer = kafka_consumer(enable_auto_commit=False)
    try:
        from kafka import TopicPartition

        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return sum(consumer.end_offsets(tps).values()) if tps else 0
    finally:
        consumer.close()


def committed_offsets(group: str, topic: str) -> int:
    """The offsets `group` committed on `topic`, summed over its partitions (0 before any)."""
    admin = kafka_admin()
    try:
        offsets = admin.list_group_offsets({group: None}).get(group) or {}
        return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)
    finally:
        admin.close()


def wait_for(check, what: str, timeout_s: float = 60, abort_if=None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if abort_if is not None and (why := abort_if()):
            raise AssertionError(why)
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


# ---------------------------------------------------------------- the stack itself


def test_the_secure_stack_keeps_secrets_in_0600_files_and_refuses_what_is_not_tls_and_authenticated(
        secure_env, tmp_path):
    settings = load_settings()
    home = Path(secure_env["VIGIL_STACK_DIR"]) / "secure"
    status = launcher.stack_status(settings)
    assert status["mode"].startswith("secure (Kafka SASL_SSL with SCRAM-SHA-512, Redis TLS with ACL user vigil-app)")
    assert status["kafka"].endswith("healthy") and status["redis"].endswith("healthy")
    assert "settings" not in status  # this process's settings match the running mode
    plain_view = launcher.stack_status(replace(settings, stack_mode="plain"))
    assert plain_view["settings"].startswith("this shell's settings are plain: load the secure ones with set -a;")

    secret_files = [*(home / "secrets").iterdir(), home / "tls" / "server.key", home / "tls" / "keystore.pem",
                    home / "kafka" / "server.properties", home / "redis" / "redis.conf"]
    assert len(secret_files) >= 10
    for path in secret_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    passwords = [p.read_text().strip() for p in (home / "secrets").glob("*.password")]
    for pid_file in (home / "kafka" / "kafka.pid", home / "redis" / "redis.pid"):
        cmdline = Path(f"/proc/{pid_file.read_text().strip()}/cmdline").read_bytes().decode()
        assert not any(p in cmdline for p in passwords), f"a password on the command line of {pid_file.stem}"

    # what is not TLS, not authenticated or not trusted is refused, in one line naming the setting
    assert kafka_problem(replace(settings, kafka_security="plaintext")) == (
        f"Kafka at 127.0.0.1:{KAFKA_PORT} closed the connection during the handshake: it seems to expect TLS and "
        "SASL; set VIGIL_KAFKA_SECURITY=sasl_ssl with VIGIL_KAFKA_USER, VIGIL_KAFKA_PASSWORD_FILE and "
        "VIGIL_KAFKA_CA_FILE")
    foreign_ca = str(make_certificates(tmp_path / "foreign").ca)
    assert kafka_problem(replace(settings, kafka_ca_file=foreign_ca)).startswith(
        f"Kafka at 127.0.0.1:{KAFKA_PORT}: its TLS certificate is not trusted (self-signed certificate in "
        f"certificate chain); check VIGIL_KAFKA_CA_FILE ({foreign_ca})")
    assert kafka_problem(replace(settings, kafka_sasl_mechanism="SCRAM-SHA-256")).startswith(
        f"Kafka at 127.0.0.1:{KAFKA_PORT} does not accept SASL SCRAM-SHA-256")
    assert redis_problem(replace(settings, redis_url_env=f"redis://127.0.0.1:{REDIS_PORT}/0", redis_ca_file="")) == (
        f"Redis at redis://127.0.0.1:{REDIS_PORT}/0 closed the connection: it seems to expect TLS; use a rediss:// "
        "REDIS_URL with VIGIL_REDIS_CA_FILE")
    assert redis_problem(replace(settings, redis_user="", redis_password_file="")) == (
        f"Redis at rediss://127.0.0.1:{REDIS_PORT}/0 wants a user name and password: set VIGIL_REDIS_USER and "
        "VIGIL_REDIS_PASSWORD_FILE")
    assert redis_problem(replace(settings, redis_ca_file=foreign_ca)).startswith(
        f"Redis at rediss://127.0.0.1:{REDIS_PORT}/0: its TLS certificate is not trusted")

    # the controller listener serves only holders of a certificate from the stack's CA (the broker)
    assert _controller_answers(home / "tls", with_certificate=True)
    with pytest.raises(ssl.SSLError, match="BAD_CERTIFICATE|CERTIFICATE_REQUIRED"):
        _controller_answers(home / "tls", with_certificate=False)

    # the app user reaches vigil's keys and channels only, and no admin command
    client = redis_client(settings)
    try:
        client.set("vigil:secure-test", "1", ex=60)
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.set("elsewhere", "1")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.flushall()
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.publish("elsewhere", "1")
    finally:
        client.close()


def _controller_answers(tls: Path, *, with_certificate: bool) -> bool:
    """Send an ApiVersions request to the controller listener over TLS; True when it answers."""
    context = ssl.create_default_context(cafile=tls / "ca.pem")
    if with_certificate:
        context.load_cert_chain(tls / "server.pem", tls / "server.key")
    with socket.create_connection(("127.0.0.1", CONTROLLER_PORT), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
        request = struct.pack(">hhih", 18, 0, 1, 4) + b"test"  # ApiVersions v0, client id "test"
        conn.sendall(struct.pack(">i", len(request)) + request)
        return len(conn.recv(4)) == 4


# ---------------------------------------------------------------- everything working over it


def test_worker_ingest_dispatcher_and_bank_work_over_sasl_ssl_and_tls(secure_env, tmp_path):
    settings = load_settings()
    ensure_topics(settings)
    env = {**secure_env, "VIGIL_TEST_WEBHOOK_SECRET": new_secret()}
    photo = Image.fromarray(data.rocket()).convert("RGB")
    bank_dir = tmp_path / "bank"
    bank_dir.mkdir()
    photo.save(bank_dir / "mc-7.png")
    buf = io.BytesIO()
    ImageOps.mirror(photo).resize((300, 200)).save(buf, "JPEG", quality=60)
    bank_ad = ad("secure-bank-photo", images=[{"data_b64": base64.b64encode(buf.getvalue()).decode()}])
    feed = [{k: v for k, v in a.items() if k != "ground_truth"}
            for a in generate_ads(20, seed=5, difficulty="easy", images=False)]
    feed_file = tmp_path / "feed.jsonl"
    feed_file.write_text("".join(json.dumps(a) + "\n" for a in feed))
    sink_out = tmp_path / "received.jsonl"
    config = tmp_path / "dispatch.yaml"
    config.write_text(f"destinations:\n  - name: on-call\n    url: http://127.0.0.1:{SINK_PORT}/hook\n"
                      "    secret_env: VIGIL_TEST_WEBHOOK_SECRET\n    min_severity: medium\n")
    logs = {name: tmp_path / f"{name}.log" for name in ("sink", "dispatch", "worker", "ingest")}

    with running_vigil(["webhook-sink", "--port", str(SINK_PORT), "--secret-env", "VIGIL_TEST_WEBHOOK_SECRET",
                        "--out", str(sink_out), "--quiet"], env, logs["sink"], cwd=REPO), \
            running_vigil(["dispatch", "--config", str(config), "--metrics-port", "0"], env, logs["dispatch"],
                          cwd=REPO) as dispatcher, \
            running_vigil(["worker", "--metrics-port", "0"], env, logs["worker"], cwd=REPO) as worker, \
            running_vigil(["ingest", "--http", "--port", str(INGEST_PORT)], env, logs["ingest"], cwd=REPO) as ingest:
        died = worker_death(worker, logs["worker"])
        sent = vigil(["ingest", str(feed_file)], env)
        assert sent.returncode == 0 and "20 records sent" in sent.stderr, sent.stderr
        scored = read_topic(settings.kafka_bootstrap, settings.topics.scored, timeout_s=180, abort_if=died,
                            until=lambda recs: {r["ad_id"] for r in recs} >= {a["ad_id"] for a in feed})

        # a bank entry added now reaches the running worker (Redis pub/sub over TLS, ACL channel rule)
        added = vigil(["bank", "add", "missing_children", str(bank_dir), "--case-id", "SYN-SECURE-7"], env)
        assert added.returncode == 0 and "1 entries added" in added.stdout, added.stderr
        wait_for(lambda: "hash banks reloaded: {'missing_children': 1}" in logs["worker"].read_text(),
                 "the worker to load the new bank entry", abort_if=died)

        token = secret(env, "ingest-tokens").splitlines()[-1]
        posted = wait_for(lambda: _post(f"http://127.0.0.1:{INGEST_PORT}/ads", [bank_ad, ad("secure-http-1")],
                                        token), "the HTTP ingest to listen",
                          abort_if=lambda: ingest.poll() is not None and logs["ingest"].read_text()[-2000:])
        assert posted.status_code == 202 and posted.json() == {"accepted": ["secure-bank-photo", "secure-http-1"]}

        wanted = {a["ad_id"] for a in feed} | {"secure-bank-photo", "secure-http-1"}
        scored = read_topic(settings.kafka_bootstrap, settings.topics.scored, timeout_s=120, abort_if=died,
                            until=lambda recs: {r["ad_id"] for r in recs} >= wanted)
        alerts = read_topic(settings.kafka_bootstrap, settings.topics.alerts, timeout_s=30,
                            until=lambda recs: any(r["ad_id"] == "secure-bank-photo" for r in recs))
        alert = next(a for a in alerts if a["ad_id"] == "secure-bank-photo")
        delivered = wait_for(lambda: [r for r in _lines(sink_out) if r.get("payload", {}).get("alert_id")
                                      == alert["alert_id"]],
                             "the dispatcher to deliver the critical alert",
                             abort_if=lambda: dispatcher.poll() is not None and logs["dispatch"].read_text()[-2000:])

    assert sorted(r["ad_id"] for r in scored) == sorted(wanted), "each ad scored exactly once"
    assert alert["severity"] == "critical"
    assert alert["image_matches"][0]["case_id"] == "SYN-SECURE-7"
    assert delivered[0]["verified"] is True, "signed webhook, signature checked by the receiver"
    # the worker's consumer group committed its offsets through SASL_SSL too
    assert wait_for(lambda: committed_offsets(f"vigil-{settings.topic_prefix.strip('.')}",
                                              settings.topics.raw) >= len(wanted) or None,
                    "the worker's committed offsets", timeout_s=30)
    for name, path in logs.items():  # no secret in any log
        text = path.read_text()
        for secret_name in ("kafka-app.password", "redis-app.password", "ingest-tokens", "log-hash-key"):
            for value in secret(env, secret_name).splitlines():
                if not value.startswith("#"):
                    assert value not in text, f"{secret_name} in the {name} log"


def _post(url: str, ads: list[dict], token: str | None) -> httpx.Response | None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return httpx.post(url, json=ads, headers=headers, timeout=30)
    except httpx.TransportError:
        return None


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# ---------------------------------------------------------------- failures: clear, and nothing lost


def test_a_wrong_password_or_a_missing_ca_stops_each_command_in_one_line_and_loses_nothing(secure_env, tmp_path):
    settings = load_settings()
    ensure_topics(settings)
    ads = [ad(f"secure-waiting-{i}") for i in range(10)]
    produce(settings.kafka_bootstrap, settings.topics.raw,
            [(a["ad_id"].encode(), json.dumps(a).encode()) for a in ads])
    feed_file = tmp_path / "more.jsonl"
    feed_file.write_text(json.dumps(ad("secure-never-sent")) + "\n")
    bank_dir = tmp_path / "bank"
    bank_dir.mkdir()
    Image.fromarray(data.coffee()).save(bank_dir / "cup.png")
    wrong = wrong_secret_file(tmp_path)
    missing_ca = str(tmp_path / "missing-ca.pem")
    kafka_refused = (f"Kafka at 127.0.0.1:{KAFKA_PORT} refused user 'vigil-app': wrong user name or password "
                     "(SCRAM-SHA-512); check VIGIL_KAFKA_USER and VIGIL_KAFKA_PASSWORD_FILE")
    redis_refused = (f"Redis at rediss://127.0.0.1:{REDIS_PORT}/0 refused user 'vigil-app': wrong user name or "
                     "password, or the user is disabled; check VIGIL_REDIS_USER and VIGIL_REDIS_PASSWORD_FILE")
    config = tmp_path / "dispatch.yaml"
    config.write_text("destinations:\n  - name: on-call\n    url: http://127.0.0.1:9/hook\n"
                      "    secret_env: VIGIL_TEST_WEBHOOK_SECRET\n")
    cases = {
        "worker, wrong Kafka password": (["worker", "--metrics-port", "0"], {"VIGIL_KAFKA_PASSWORD_FILE": wrong},
                                         f"vigil worker: {kafka_refused}"),
        "worker, wrong Redis password": (["worker", "--metrics-port", "0"], {"VIGIL_REDIS_PASSWORD_FILE": wrong},
                                         f"vigil worker: {redis_refused}"),
        "worker, missing Kafka CA": (["worker", "--metrics-port", "0"], {"VIGIL_KAFKA_CA_FILE": missing_ca},
                                     f"vigil worker: VIGIL_KAFKA_CA_FILE={missing_ca}: no such file"),
        "worker, missing Redis CA": (["worker", "--metrics-port", "0"], {"VIGIL_REDIS_CA_FILE": missing_ca},
                                     f"vigil worker: VIGIL_REDIS_CA_FILE={missing_ca}: no such file"),
        "ingest, wrong Kafka password": (["ingest", str(feed_file)], {"VIGIL_KAFKA_PASSWORD_FILE": wrong},
                                         f"vigil ingest: {kafka_refused}"),
        "bank add, wrong Redis password": (["bank", "add", "missing_children", str(bank_dir)],
                                           {"VIGIL_REDIS_PASSWORD_FILE": wrong}, f"vigil bank: {redis_refused}"),
        "dispatch, wrong Kafka password": (["dispatch", "--config", str(config), "--metrics-port", "0"],
                                           {"VIGIL_KAFKA_PASSWORD_FILE": wrong,
                                            "VIGIL_TEST_WEBHOOK_SECRET": new_secret()},
                                           f"vigil dispatch: {kafka_refused}"),
    }
    procs = {name: subprocess.Popen([sys.executable, "-m", "streams.cli", *args], env={**secure_env, **change},
                                    cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    start_new_session=True)
             for name, (args, change, _) in cases.items()}
    try:
        outcomes = {name: proc.communicate(timeout=120) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            stop_process_group(proc, timeout_s=5)
    for name, (_, _, says) in cases.items():
        out, err = outcomes[name]
        assert procs[name].returncode == 2, (name, out, err)
        assert err.strip().splitlines()[-1] == says, (name, err)
        assert "Traceback" not in err, (name, err)

    # nothing sent, nothing added, nothing consumed: the ads wait for a worker that can connect
    assert end_offsets(settings.topics.raw) == len(ads)
    assert launcher.redis_healthy(settings.redis_url, settings)
    client = redis_client(settings)
    assert client.hlen(f"vigil:{settings.topic_prefix}banks") == 0
    client.close()
    log_path = tmp_path / "worker.log"
    with running_vigil(["worker", "--metrics-port", "0"], secure_env, log_path, cwd=REPO) as worker:
        scored = read_topic(settings.kafka_bootstrap, settings.topics.scored, timeout_s=180,
                            abort_if=worker_death(worker, log_path),
                            until=lambda recs: len({r["ad_id"] for r in recs}) >= len(ads))
    assert sorted(r["ad_id"] for r in scored) == sorted(a["ad_id"] for a in ads)
    assert list(read_topic_to_end(settings.kafka_bootstrap, settings.topics.dlq, timeout_s=30)) == []


def test_post_ads_without_a_valid_bearer_token_is_refused_and_produces_nothing(secure_env, tmp_path):
    settings = load_settings()
    ensure_topics(settings)
    tokens = tmp_path / "tokens"
    first = "first-" + uuid.uuid4().hex + uuid.uuid4().hex
    tokens.write_text(f"# test tokens\n{first}\n")
    tokens.chmod(0o600)
    env = {**secure_env, "VIGIL_INGEST_TOKENS_FILE": str(tokens)}
    url = f"http://127.0.0.1:{INGEST_PORT + 1}/ads"
    log_path = tmp_path / "ingest.log"
    with running_vigil(["ingest", "--http", "--port", str(INGEST_PORT + 1)], env, log_path, cwd=REPO) as proc:
        missing = wait_for(lambda: _post(url, [ad("refused-no-token")], None), "the HTTP ingest to listen",
                           abort_if=lambda: proc.poll() is not None and log_path.read_text()[-2000:])
        wrong = _post(url, [ad("refused-wrong-token")], "x" * 40)
        accepted = _post(url, [ad("accepted-1")], first)
        second = "second-" + uuid.uuid4().hex + uuid.uuid4().hex
        tokens.write_text(f"{first}\n{second}\n")  # rotation: a new token, live without a restart
        rotated = _post(url, [ad("accepted-2")], second)
        metrics = httpx.get(url.replace("/ads", "/metrics"), timeout=10).text
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="vigil-ingest"'
    assert missing.json() == {"error": "unauthorized",
                              "reason": "POST /ads needs an 'Authorization: Bearer <token>' header"}
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="vigil-ingest", error="invalid_token"'
    assert accepted.status_code == 202 and rotated.status_code == 202, (accepted.text, rotated.text)
    assert 'vigil_ingest_unauthorized_total{reason="missing"} 1.0' in metrics
    assert 'vigil_ingest_unauthorized_total{reason="invalid"} 1.0' in metrics
    # read ads.raw to its end offsets: the accepted ads are there, the refused ones are not
    on_topic = [json.loads(v)["ad_id"] for v in read_topic_to_end(settings.kafka_bootstrap, settings.topics.raw)]
    assert sorted(on_topic) == ["accepted-1", "accepted-2"]
    assert first not in log_path.read_text() and second not in log_path.read_text()


def test_beyond_loopback_ingest_refuses_to_start_without_tokens_or_its_own_log_hash_key(secure_env):
    beyond = {k: v for k, v in secure_env.items() if k not in ("VIGIL_INGEST_TOKENS_FILE", "VIGIL_LOG_HASH_KEY_FILE")}
    beyond["VIGIL_BIND"] = "0.0.0.0"
    no_tokens = vigil(["ingest", "--http", "--port", str(INGEST_PORT + 2)], beyond)
    assert no_tokens.returncode == 2
    assert no_tokens.stderr.strip().splitlines()[-1] == (
        "vigil ingest: VIGIL_BIND=0.0.0.0 would let anyone who reaches this port post ads: set "
        "VIGIL_INGEST_TOKENS_FILE to a file of bearer tokens (one per line, at least 32 characters each, e.g. "
        "`openssl rand -hex 32`)")
    no_key = vigil(["ingest", "--http", "--port", str(INGEST_PORT + 2)],
                   {**beyond, "VIGIL_INGEST_TOKENS_FILE": secure_env["VIGIL_INGEST_TOKENS_FILE"]})
    assert no_key.returncode == 2
    assert no_key.stderr.strip().splitlines()[-1].startswith(
        "vigil ingest: VIGIL_BIND=0.0.0.0 takes vigil beyond this machine, where the built-in log hash key would "
        "let anyone reverse hashed phone numbers in the logs: set VIGIL_LOG_HASH_KEY_FILE")
