"""The local stack: a real single-node Apache Kafka broker (KRaft) and Redis, on loopback.

`vigil stack up [--secure] | down | status`. Kafka's jars are resolved from Maven Central by
`deploy/kafka/pom.xml`, storage is formatted on first start, and all data, logs and pid files
live under `.stack/`. Set `KAFKA_BOOTSTRAP` / `REDIS_URL` to use existing services instead.
In secure mode (`--secure`, or VIGIL_STACK_MODE=secure) Kafka speaks SASL_SSL and Redis TLS
with ACL users, from certificates and secrets under `.stack/secure/` (streams/stack/secure.py).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from streams.config import REDIS_AOF_REWRITE, REPO_ROOT, STACK_MODES, Settings, display_url, load_settings
from streams.errors import CliError
from streams.preflight import kafka_problem, preflight, redis_problem
from streams.stack import secure

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
    started: frozenset[str] = frozenset()  # what `services` started (and will stop)


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


OWNER_FILE = "owner.json"


def _record_owner(home: Path, service: str, pid: int, port: int, settings: Settings) -> None:
    """Who started this service: the checkout, its stack directory and the command, so a
    second checkout that meets the port can say whose it is and how to stop it."""
    record = {"service": service, "pid": pid, "port": port, "checkout": str(REPO_ROOT),
              "stack_dir": str(settings.stack_dir), "started_by": "vigil " + shlex.join(sys.argv[1:])[:200],
              "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (home / OWNER_FILE).write_text(json.dumps(record, indent=1) + "\n")


def read_owner(home: Path) -> dict | None:
    try:
        record = json.loads((home / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _listening_inodes(port: int, proc_net: Path = Path("/proc/net")) -> set[str]:
    """Socket inodes listening on a TCP port (IPv4 and IPv6), from /proc/net/tcp*."""
    inodes = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = (proc_net / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _pids_with_sockets(inodes: set[str], proc: Path = Path("/proc")) -> list[int]:
    wanted = {f"socket:[{inode}]" for inode in inodes}
    pids = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in wanted for fd in (entry / "fd").iterdir()):
                pids.append(int(entry.name))
        except OSError:  # gone, or not ours to read
            continue
    return pids


def _pid_from_ss(port: int) -> int | None:
    """The listener's pid as `ss -ltnp` tells it (when /proc did not)."""
    ss = shutil.which("ss")
    if not ss:
        return None
    try:
        out = subprocess.run([ss, "-Hltnp", f"sport = :{port}"], capture_output=True, text=True,
                             timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"pid=(\d+)", out)
    return int(found.group(1)) if found else None


def port_holder(port: int) -> str:
    """Who listens on `port`, as a sentence: another checkout's vigil stack (with the command
    that stops it), some other process (pid and command line), or that it cannot tell."""
    pids = _pids_with_sockets(_listening_inodes(port)) or [p for p in [_pid_from_ss(port)] if p]
    if not pids:
        return (f"port {port} is taken by another program (it could not be told which: "
                f"try `ss -ltnp 'sport = :{port}'` as root)")
    pid = pids[0]
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        cwd = None
    owner = read_owner(cwd) if cwd else None
    if owner is None and cwd is not None and cwd.parent.name == ".stack" and cwd.name in ("redis", "kafka"):
        owner = {"service": cwd.name, "checkout": str(cwd.parent.parent), "stack_dir": str(cwd.parent)}
    if owner is not None:
        checkout = owner.get("checkout", "?")
        env = "" if owner.get("stack_dir") == str(Path(checkout) / ".stack") else \
            f"VIGIL_STACK_DIR={shlex.quote(str(owner.get('stack_dir')))} "
        by = f", started by `{owner['started_by']}`" if owner.get("started_by") else ""
        return (f"port {port} is held by the vigil stack of the checkout {checkout} ({owner.get('service')}, "
                f"pid {pid}{by}); stop it with: cd {shlex.quote(checkout)} && {env}.venv/bin/vigil stack down")
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmdline = "?"
    return f"port {port} is taken by another program: pid {pid} ({cmdline[:150]})"


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


# Redis answers only once it has loaded its append-only file: 1,000,000 keys of link state took
# 19 s here, so a dev stack after a large benchmark needs more than a fresh one's second
REDIS_START_S = 120


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


def redis_healthy(url: str, settings: Settings | None = None) -> bool:
    """Redis answers at `url` with the user, password and CA of `settings` (default: this
    process's)."""
    return redis_problem(replace(settings or load_settings(), redis_url_env=url), timeout_s=1) is None


def _redis_home(settings: Settings) -> Path:
    return secure.secure_stack(settings).redis_home if settings.stack_mode == "secure" else settings.stack_dir / "redis"


def start_redis(settings: Settings) -> bool:
    """Start the local Redis unless it (or REDIS_URL's) answers; True if this call started it."""
    if settings.external_redis:
        problem = redis_problem(settings)
        if problem:
            raise StackError(problem)
        return False
    local = secure.client_settings(settings)
    home = _redis_home(settings)
    pid_file = home / "redis.pid"
    if _pid_alive(pid_file) and redis_problem(local, timeout_s=1) is None:
        return False
    if _port_open(settings.redis_port):
        raise StackError(f"{port_holder(settings.redis_port)}; or set VIGIL_REDIS_PORT or REDIS_URL")
    server = _require("redis-server", "Redis: apt-get install -y redis-server")
    home.mkdir(parents=True, exist_ok=True)
    if settings.stack_mode == "secure":
        # TLS only, ACL users; passwords in a 0600 config file, not on the command line
        pid = _spawn([server, str(secure.write_redis_config(settings))], home / "redis.log", pid_file, home)
        _record_owner(home, "redis", pid, settings.redis_port, settings)
        _wait_until(lambda: redis_problem(local, timeout_s=1) is None, "Redis", REDIS_START_S, home / "redis.log",
                    pid_file)
        return True
    cmd = [
        server,
        "--bind", "127.0.0.1",
        "--port", str(settings.redis_port),
        "--dir", str(home),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        *(arg for name, value in REDIS_AOF_REWRITE.items() for arg in (f"--{name}", value)),
        "--save", "",
        "--protected-mode", "yes",
        "--daemonize", "no",
    ]
    pid = _spawn(cmd, home / "redis.log", pid_file, home)
    _record_owner(home, "redis", pid, settings.redis_port, settings)
    _wait_until(lambda: redis_problem(local, timeout_s=1) is None, "Redis", REDIS_START_S, home / "redis.log",
                    pid_file)
    return True


# ---------------------------------------------------------------- Kafka


def _kafka_home(settings: Settings) -> Path:
    return secure.secure_stack(settings).kafka_home if settings.stack_mode == "secure" else settings.stack_dir / "kafka"


def _resolve_kafka_jars(settings: Settings) -> Path:
    libs = settings.stack_dir / "kafka" / "libs"  # one copy for both modes
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


def _listener_lines(settings: Settings) -> list[str]:
    if settings.stack_mode == "secure":
        return secure.kafka_listener_lines(settings)
    kp, cp = settings.kafka_port, settings.controller_port
    return [
        f"listeners=PLAINTEXT://127.0.0.1:{kp},CONTROLLER://127.0.0.1:{cp}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{kp},CONTROLLER://127.0.0.1:{cp}",
        "inter.broker.listener.name=PLAINTEXT",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    ]


def _server_properties(settings: Settings, data_dir: Path) -> str:
    cp = settings.controller_port
    return "\n".join([
        "# written by `vigil stack up`" + (" --secure (holds a password and a key path: mode 0600)"
                                           if settings.stack_mode == "secure" else ""),
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.bootstrap.servers=127.0.0.1:{cp}",
        *_listener_lines(settings),
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


def kafka_healthy(bootstrap: str, settings: Settings | None = None) -> bool:
    """A broker answers at `bootstrap` and takes the security settings of `settings` (default:
    this process's)."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if port.isdigit() and not _port_open(int(port), host.strip("[]") or "127.0.0.1"):
        return False
    return kafka_problem(replace(settings or load_settings(), kafka_bootstrap_env=bootstrap), timeout_s=3) is None


def _local_kafka_healthy(settings: Settings) -> bool:
    local = secure.client_settings(settings)
    return kafka_healthy(local.kafka_bootstrap, local)


def new_cluster_id() -> str:
    """A random KRaft cluster id in Kafka's own form (22 URL-safe base64 characters). Like Kafka's
    `Uuid.randomUuid`, it never starts with "-": `kafka-storage format` would read such an id as
    an option and stop ("argument --cluster-id/-t: expected one argument"), 1 start in 64."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def start_kafka(settings: Settings) -> bool:
    """Start the local broker unless it (or KAFKA_BOOTSTRAP's) answers; True if this call
    started it."""
    if settings.external_kafka:
        problem = kafka_problem(settings)
        if problem:
            raise StackError(problem)
        return False
    home = _kafka_home(settings)
    pid_file = home / "kafka.pid"
    if _pid_alive(pid_file) and _local_kafka_healthy(settings):
        return False
    for port, name in ((settings.kafka_port, "VIGIL_KAFKA_PORT"),
                       (settings.controller_port, "VIGIL_KAFKA_CONTROLLER_PORT")):
        if _port_open(port) and not _pid_alive(pid_file):
            raise StackError(f"{port_holder(port)}; or set {name} or KAFKA_BOOTSTRAP")
    java = _require("java", "Java 17+: apt-get install -y openjdk-17-jre-headless")
    libs = _resolve_kafka_jars(settings)
    data_dir = home / "data"
    props = home / "server.properties"
    log4j = home / "log4j2.properties"
    home.mkdir(parents=True, exist_ok=True)
    props.touch(mode=0o600)
    os.chmod(props, 0o600)  # the secure broker's holds a password
    props.write_text(_server_properties(settings, data_dir))
    log4j.write_text(LOG4J2_PROPERTIES)
    classpath = f"{libs}/*"
    jvm = [java, *KAFKA_HEAP.split(), "-XX:+UseG1GC", "-Djava.awt.headless=true",
           f"-Dkafka.logs.dir={home}", f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath]
    if not (data_dir / "meta.properties").exists():
        tool = [STORAGE_TOOL_CLASS, "format", "--standalone", f"--cluster-id={new_cluster_id()}",
                "-c", str(props), "--ignore-formatted"]
        if settings.stack_mode == "secure":
            # the SCRAM users exist from the first start; their passwords go through a 0600
            # @argument file, not the command line
            argfile = secure.write_argument_file(home / "format.args",
                                                 [*tool, *secure.scram_format_arguments(settings)])
            tool = [f"@{argfile}"]
        try:
            result = subprocess.run([*jvm, *tool], capture_output=True, text=True, check=False)
        finally:
            (home / "format.args").unlink(missing_ok=True)
        if result.returncode != 0:
            raise StackError("formatting Kafka storage failed: " + result.stderr.strip()[-500:])
    if _pid_alive(pid_file):  # alive but unhealthy: give it time before starting another
        _wait_until(lambda: _local_kafka_healthy(settings), "Kafka", 60, home / "server.log", pid_file)
        return False
    pid = _spawn([*jvm, KAFKA_MAIN_CLASS, str(props)], home / "kafka.out", pid_file, home)
    _record_owner(home, "kafka", pid, settings.kafka_port, settings)
    _wait_until(lambda: _local_kafka_healthy(settings), "Kafka", 90, home / "kafka.out", pid_file)
    return True


# ---------------------------------------------------------------- public API


def running_mode(settings: Settings) -> str | None:
    """The mode the local stack in `settings.stack_dir` runs in (None: neither runs)."""
    for mode in STACK_MODES:
        other = replace(settings, stack_mode=mode)
        if _pid_alive(_kafka_home(other) / "kafka.pid") or _pid_alive(_redis_home(other) / "redis.pid"):
            return mode
    return None


def _refuse_other_mode(settings: Settings) -> None:
    running = running_mode(settings)
    if running is None or running == settings.stack_mode:
        return
    if running == "secure":
        env_file = secure.secure_stack(settings).env_file
        raise StackError(f"the local stack in {settings.stack_dir} runs in secure mode, and this process's "
                         f"settings are plain: load its settings (set -a; . {env_file}; set +a) or stop it "
                         f"(vigil stack down)")
    raise StackError(f"the local stack in {settings.stack_dir} runs in plain mode: stop it first "
                     f"(vigil stack down), then start it with vigil stack up --secure")


def ensure_stack(settings: Settings | None = None, *, check: bool = True) -> StackInfo:
    """Start Redis and Kafka unless already healthy (idempotent); wait until both answer. With
    `check`, then make sure this process's own settings work with them (streams/preflight.py:
    one line per problem, naming the setting)."""
    settings = settings or load_settings()
    started = time.monotonic()
    local = not (settings.external_kafka and settings.external_redis)
    if local:
        _refuse_other_mode(settings)
        warn_if_ephemeral(settings)
        if settings.stack_mode == "secure":
            secure.prepare(settings)
            secure.write_env_file(settings)
    start_redis(settings)
    start_kafka(settings)
    log.info("stack healthy in %.1f s: kafka=%s redis=%s mode=%s", time.monotonic() - started,
             settings.kafka_bootstrap, display_url(settings.redis_url), settings.stack_mode)
    if check:
        preflight(settings)
    return StackInfo(kafka_bootstrap=settings.kafka_bootstrap, redis_url=settings.redis_url)


def stop_stack(settings: Settings | None = None, only: frozenset[str] | set[str] | None = None) -> list[str]:
    """Stop the local stack's services, in either mode (all, or `only` those named: "kafka",
    "redis"; never external services); returns what was stopped."""
    settings = settings or load_settings()
    stopped = []
    wanted = set(only) if only is not None else {"kafka", "redis"}
    for mode in STACK_MODES:
        each = replace(settings, stack_mode=mode)
        suffix = " (secure)" if mode == "secure" else ""
        if "kafka" in wanted and not settings.external_kafka and _stop(_kafka_home(each) / "kafka.pid",
                                                                       "Kafka", 60):
            stopped.append("kafka" + suffix)
        if "redis" in wanted and not settings.external_redis and _stop(_redis_home(each) / "redis.pid", "Redis"):
            stopped.append("redis" + suffix)
    return stopped


@contextmanager
def services(settings: Settings, *, kafka: bool = False, redis: bool = False) -> Iterator[StackInfo]:
    """The services a command needs, started if they are not up (never those set by
    KAFKA_BOOTSTRAP / REDIS_URL), and stopped again at the end only if this command started
    them: a stack that was already up stays up."""
    started: set[str] = set()
    try:
        local = (kafka and not settings.external_kafka) or (redis and not settings.external_redis)
        if local:
            _refuse_other_mode(settings)
            warn_if_ephemeral(settings)
            if settings.stack_mode == "secure":
                secure.prepare(settings)
                secure.write_env_file(settings)
        if redis and start_redis(settings):
            started.add("redis")
        if kafka and start_kafka(settings):
            started.add("kafka")
        if kafka or redis:  # this process's own settings work with them (one line per problem)
            preflight(settings, kafka=kafka, redis=redis)
        yield StackInfo(kafka_bootstrap=settings.kafka_bootstrap, redis_url=settings.redis_url,
                        started=frozenset(started))
    finally:
        if started:
            stopped = stop_stack(settings, only=started)
            log.info("stopped what this command started: %s", ", ".join(stopped) or "nothing")


def owners(settings: Settings) -> dict[str, str]:
    """Per local service that runs: who started it, when, from which checkout."""
    out = {}
    for name, home in (("kafka", _kafka_home(settings)), ("redis", _redis_home(settings))):
        owner = read_owner(home)
        if owner and _pid_alive(home / f"{name}.pid"):
            out[name] = (f"pid {owner.get('pid')}, started {owner.get('started_at')} by "
                         f"`{owner.get('started_by')}` in {owner.get('checkout')}")
    return out


MODE_DESCRIPTIONS = {
    "plain": "plain (no TLS, no passwords; loopback only)",
    "secure": f"secure (Kafka SASL_SSL with {secure.SASL_MECHANISM}, Redis TLS with ACL user {secure.APP_USER})",
}


def stack_status(settings: Settings | None = None) -> dict[str, str]:
    """`mode`, `kafka` and `redis` lines (healthy or down, checked as the local stack's own
    client), and `settings` when this process's settings do not match the running mode."""
    settings = settings or load_settings()
    mode = running_mode(settings) or settings.stack_mode
    stack = secure.client_settings(replace(settings, stack_mode=mode))
    kafka_view = settings if settings.external_kafka else stack
    redis_view = settings if settings.external_redis else stack
    status = {
        "mode": MODE_DESCRIPTIONS[mode] + ("" if running_mode(settings) else ", not running"),
        "kafka": f"{settings.kafka_bootstrap} "
        + ("healthy" if kafka_healthy(kafka_view.kafka_bootstrap, kafka_view) else "down"),
        "redis": f"{display_url(redis_view.redis_url)} "
        + ("healthy" if redis_healthy(redis_view.redis_url, redis_view) else "down"),
    }
    if mode != settings.stack_mode:
        status["settings"] = (f"this shell's settings are {settings.stack_mode}: load the secure ones with "
                              f"set -a; . {secure.secure_stack(settings).env_file}; set +a"
                              if mode == "secure" else "this shell's settings are secure, the stack is plain")
    return status


def _cmd_stack(args) -> int:
    if args.action == "up":
        settings = load_settings()
        if args.secure:
            settings = replace(settings, stack_mode="secure")
        info = ensure_stack(settings, check=False)
        if settings.stack_mode != "secure":
            print(f"kafka {info.kafka_bootstrap} healthy\nredis {info.redis_url} healthy")
            return 0
        env_file = secure.secure_stack(settings).env_file
        print(f"kafka {info.kafka_bootstrap} healthy (SASL_SSL, {secure.SASL_MECHANISM}, user {secure.APP_USER})\n"
              f"redis {display_url(info.redis_url)} healthy (TLS only, ACL user {secure.APP_USER}, default user off)\n"
              f"secure mode: certificates, secrets (0600 files) and data under {settings.secure_stack_dir}\n"
              f"every vigil process needs these settings (no secret among them, only paths):\n"
              f"  set -a; . {env_file}; set +a")
        for name, value in secure.environment(settings).items():
            print(f"  {name}={value}")
        return 0
    if args.action == "down":
        stopped = stop_stack()
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    settings = load_settings()
    status = stack_status(settings)
    started = owners(replace(settings, stack_mode=running_mode(settings) or settings.stack_mode))
    for name, state in status.items():
        print(f"{name} {state}" + (f" ({started[name]})" if name in started else ""))
    return 0 if all(status[s].endswith("healthy") for s in ("kafka", "redis")) else 1


def register(subparsers) -> None:
    p = subparsers.add_parser("stack", help="start/stop the local Kafka (KRaft) broker and Redis")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--secure", action="store_true",
                   help="with up: Kafka SASL_SSL (SCRAM) and Redis TLS with ACL users, certificates and "
                        "secrets made on the spot under .stack/secure (same as VIGIL_STACK_MODE=secure)")
    p.set_defaults(func=_cmd_stack)
