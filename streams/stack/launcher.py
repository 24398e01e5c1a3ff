"""The local stack: a real single-node Apache Kafka broker (KRaft) and Redis, on loopback.

`vigil stack up | down | status`. Kafka's jars are resolved from Maven Central by
`deploy/kafka/pom.xml`, storage is formatted on first start, and all data, logs and pid files
live under `.stack/`. Set `KAFKA_BOOTSTRAP` / `REDIS_URL` to use existing services instead.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from streams.config import REPO_ROOT, Settings, load_settings
from streams.errors import CliError

log = logging.getLogger(__name__)

KAFKA_POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
KAFKA_MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
KAFKA_HEAP = os.environ.get("VIGIL_KAFKA_HEAP", "-Xms256m -Xmx1g")


@dataclass(frozen=True)
class StackInfo:
    """Where vigil's services answer."""

    kafka_bootstrap: str
    redis_url: str


class StackError(CliError):
    """The stack could not be started or reached; the message says what to do."""


# ---------------------------------------------------------------- helpers


def _require(program: str, install_hint: str) -> str:
    path = shutil.which(program)
    if not path:
        raise StackError(f"'{program}' was not found on PATH: install {install_hint}")
    return path


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def ephemeral_range(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> range | None:
    """The ports Linux hands to outgoing connections (None where it cannot be read)."""
    try:
        low, high = (int(v) for v in path.read_text().split())
    except (OSError, ValueError):
        return None
    return range(low, high + 1)


def warn_if_ephemeral(settings: Settings) -> list[str]:
    """Warn about listening ports inside the ephemeral range: while a service is down, a client
    reconnecting to it on loopback can be given that very port as its own and connect to itself
    (TCP simultaneous open), and the service then cannot bind it again (seen in the fault suite
    with the broker on 39592). Returns the warnings."""
    ephemeral = ephemeral_range()
    if ephemeral is None:
        return []
    ports = {"VIGIL_REDIS_PORT": None if settings.external_redis else settings.redis_port}
    if not settings.external_kafka:
        ports |= {"VIGIL_KAFKA_PORT": settings.kafka_port,
                  "VIGIL_KAFKA_CONTROLLER_PORT": settings.controller_port}
    warnings = [f"{name}={port} is inside the ephemeral port range {ephemeral.start}-"
                f"{ephemeral.stop - 1}: after a restart the service may find it taken by a client "
                f"connected to itself; pick a port below {ephemeral.start}"
                for name, port in ports.items() if port is not None and port in ephemeral]
    for warning in warnings:
        log.warning(warning)
    return warnings


def _pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    # a zombie still answers kill(0); treat it as gone
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        if state == "Z":
            return None
    except (FileNotFoundError, IndexError):
        pass
    return pid


def _spawn(cmd: list[str], log_file: Path, pid_file: Path, cwd: Path) -> int:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the CLI; `stack down` stops it
        )
    pid_file.write_text(str(proc.pid))
    return proc.pid


def _stop(pid_file: Path, name: str, timeout_s: float = 30.0) -> bool:
    pid = _pid_alive(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _pid_alive(pid_file):
        time.sleep(0.2)
    if _pid_alive(pid_file):
        log.warning("%s did not stop in %.0f s; killing it", name, timeout_s)
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def _wait_until(check, what: str, timeout_s: float, log_file: Path, pid_file: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if not _pid_alive(pid_file):
            tail = _tail(log_file)
            raise StackError(f"{what} exited during start-up; last log lines:\n{tail}")
        time.sleep(0.3)
    raise StackError(f"{what} did not become healthy in {timeout_s:.0f} s; see {log_file}")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


# ---------------------------------------------------------------- Redis


def redis_healthy(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except Exception:  # noqa: BLE001 - any failure means "not yet"
        return False


def start_redis(settings: Settings) -> None:
    if settings.external_redis:
        if not redis_healthy(settings.redis_url):
            raise StackError(f"REDIS_URL is set but Redis does not answer there ({settings.redis_url})")
        return
    home = settings.stack_dir / "redis"
    pid_file = home / "redis.pid"
    if _pid_alive(pid_file) and redis_healthy(settings.redis_url):
        return
    if _port_open(settings.redis_port):
        raise StackError(
            f"port {settings.redis_port} is taken by another program; set VIGIL_REDIS_PORT or REDIS_URL"
        )
    server = _require("redis-server", "Redis: apt-get install -y redis-server")
    home.mkdir(parents=True, exist_ok=True)
    cmd = [
        server,
        "--bind", "127.0.0.1",
        "--port", str(settings.redis_port),
        "--dir", str(home),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--protected-mode", "yes",
        "--daemonize", "no",
    ]
    _spawn(cmd, home / "redis.log", pid_file, home)
    _wait_until(lambda: redis_healthy(settings.redis_url), "Redis", 20, home / "redis.log", pid_file)


# ---------------------------------------------------------------- Kafka


def _kafka_home(settings: Settings) -> Path:
    return settings.stack_dir / "kafka"


def _resolve_kafka_jars(settings: Settings) -> Path:
    libs = _kafka_home(settings) / "libs"
    if libs.is_dir() and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    mvn = _require("mvn", "Maven: apt-get install -y maven (needs Maven Central reachable)")
    libs.mkdir(parents=True, exist_ok=True)
    log.info("resolving Kafka broker jars from Maven Central (first start only)…")
    result = subprocess.run(
        [mvn, "-q", "-B", "-f", str(KAFKA_POM), "dependency:copy-dependencies",
         f"-DoutputDirectory={libs}", "-DincludeScope=runtime"],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0 or not any(libs.glob("kafka_2.13-*.jar")):
        shutil.rmtree(libs, ignore_errors=True)
        detail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise StackError("Maven could not resolve the Kafka jars: " + " | ".join(detail))
    return libs


def _server_properties(settings: Settings, data_dir: Path) -> str:
    kp, cp = settings.kafka_port, settings.controller_port
    return "\n".join([
        "# written by `vigil stack up`",
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.bootstrap.servers=127.0.0.1:{cp}",
        f"listeners=PLAINTEXT://127.0.0.1:{kp},CONTROLLER://127.0.0.1:{cp}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{kp},CONTROLLER://127.0.0.1:{cp}",
        "inter.broker.listener.name=PLAINTEXT",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        f"log.dirs={data_dir}",
        f"num.partitions={settings.partitions}",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=4",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=true",
        "message.max.bytes=12582912",
        "log.retention.hours=168",
        "log.segment.bytes=104857600",
        "",
    ])


LOG4J2_PROPERTIES = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
"""


def kafka_healthy(bootstrap: str) -> bool:
    from kafka import KafkaAdminClient

    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not _port_open(int(port), host or "127.0.0.1"):
        return False
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=3000
        )
        try:
            admin.list_topics()
        finally:
            admin.close()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not yet"
        return False


def start_kafka(settings: Settings) -> None:
    if settings.external_kafka:
        if not kafka_healthy(settings.kafka_bootstrap):
            raise StackError(
                f"KAFKA_BOOTSTRAP is set but no broker answers there ({settings.kafka_bootstrap})"
            )
        return
    home = _kafka_home(settings)
    pid_file = home / "kafka.pid"
    if _pid_alive(pid_file) and kafka_healthy(settings.kafka_bootstrap):
        return
    for port in (settings.kafka_port, settings.controller_port):
        if _port_open(port) and not _pid_alive(pid_file):
            raise StackError(
                f"port {port} is taken by another program; set VIGIL_KAFKA_PORT or KAFKA_BOOTSTRAP"
            )
    java = _require("java", "Java 17+: apt-get install -y openjdk-17-jre-headless")
    libs = _resolve_kafka_jars(settings)
    data_dir = home / "data"
    props = home / "server.properties"
    log4j = home / "log4j2.properties"
    home.mkdir(parents=True, exist_ok=True)
    props.write_text(_server_properties(settings, data_dir))
    log4j.write_text(LOG4J2_PROPERTIES)
    classpath = f"{libs}/*"
    jvm = [java, *KAFKA_HEAP.split(), "-XX:+UseG1GC", "-Djava.awt.headless=true",
           f"-Dkafka.logs.dir={home}", f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath]
    if not (data_dir / "meta.properties").exists():
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(
            [*jvm, STORAGE_TOOL_CLASS, "format", "--standalone", "-t", cluster_id,
             "-c", str(props), "--ignore-formatted"],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise StackError("formatting Kafka storage failed: " + result.stderr.strip()[-500:])
    if _pid_alive(pid_file):  # alive but unhealthy: give it time before starting another
        _wait_until(lambda: kafka_healthy(settings.kafka_bootstrap), "Kafka", 60,
                    home / "server.log", pid_file)
        return
    _spawn([*jvm, KAFKA_MAIN_CLASS, str(props)], home / "kafka.out", pid_file, home)
    _wait_until(lambda: kafka_healthy(settings.kafka_bootstrap), "Kafka", 90,
                home / "kafka.out", pid_file)


# ---------------------------------------------------------------- public API


def ensure_stack(settings: Settings | None = None) -> StackInfo:
    """Start Redis and Kafka unless already healthy (idempotent); wait until both answer."""
    settings = settings or load_settings()
    started = time.monotonic()
    warn_if_ephemeral(settings)
    start_redis(settings)
    start_kafka(settings)
    log.info("stack healthy in %.1f s: kafka=%s redis=%s", time.monotonic() - started,
             settings.kafka_bootstrap, settings.redis_url)
    return StackInfo(kafka_bootstrap=settings.kafka_bootstrap, redis_url=settings.redis_url)


def stop_stack(settings: Settings | None = None) -> list[str]:
    """Stop what `ensure_stack` started (never external services); returns what was stopped."""
    settings = settings or load_settings()
    stopped = []
    if not settings.external_kafka and _stop(_kafka_home(settings) / "kafka.pid", "Kafka", 60):
        stopped.append("kafka")
    if not settings.external_redis and _stop(settings.stack_dir / "redis" / "redis.pid", "Redis"):
        stopped.append("redis")
    return stopped


def stack_status(settings: Settings | None = None) -> dict[str, str]:
    settings = settings or load_settings()
    return {
        "kafka": f"{settings.kafka_bootstrap} "
        + ("healthy" if kafka_healthy(settings.kafka_bootstrap) else "down"),
        "redis": f"{settings.redis_url} "
        + ("healthy" if redis_healthy(settings.redis_url) else "down"),
    }


def _cmd_stack(args) -> int:
    if args.action == "up":
        info = ensure_stack()
        print(f"kafka {info.kafka_bootstrap} healthy\nredis {info.redis_url} healthy")
        return 0
    if args.action == "down":
        stopped = stop_stack()
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    status = stack_status()
    for name, state in status.items():
        print(f"{name} {state}")
    return 0 if all(s.endswith("healthy") for s in status.values()) else 1


def register(subparsers) -> None:
    p = subparsers.add_parser("stack", help="start/stop the local Kafka (KRaft) broker and Redis")
    p.add_argument("action", choices=["up", "down", "status"])
    p.set_defaults(func=_cmd_stack)
