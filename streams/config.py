"""Settings from the environment, with defaults that run on one machine's loopback."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_MODES = ("plain", "secure")
KAFKA_SECURITY = ("plaintext", "sasl_ssl")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


# The local stack's Redis rewrites its append-only file when it has grown 4x past its last
# rewrite and is over 256 MB. Link state churns (each ad rewrites and expires its keys), so at
# Redis's defaults (100 %, 64 MB) a 290 ads/s soak rewrote its ~150 MB dataset 67 times in 33
# minutes, a fork and a full write every 30 s on a 2-core box; the file now holds up to ~4x
# the dataset between rewrites instead.
REDIS_AOF_REWRITE = {"auto-aof-rewrite-percentage": "300", "auto-aof-rewrite-min-size": "256mb"}


@dataclass(frozen=True)
class Topics:
    """Topic names; every record on them is described in `schemas/`."""

    raw: str = "ads.raw"
    dlq: str = "ads.dlq"
    scored: str = "ads.scored"
    alerts: str = "alerts"
    alerts_dlq: str = "alerts.dlq"
    feedback: str = "feedback"
    banks: str = "banks"


@dataclass(frozen=True)
class Settings:
    """Where the services are and how the pipeline is tuned."""

    stack_dir: Path = field(default_factory=lambda: Path(_env("VIGIL_STACK_DIR", str(REPO_ROOT / ".stack"))))
    kafka_port: int = field(default_factory=lambda: int(_env("VIGIL_KAFKA_PORT", "19092")))
    controller_port: int = field(default_factory=lambda: int(_env("VIGIL_KAFKA_CONTROLLER_PORT", "19093")))
    redis_port: int = field(default_factory=lambda: int(_env("VIGIL_REDIS_PORT", "16379")))
    kafka_bootstrap_env: str = field(default_factory=lambda: os.environ.get("KAFKA_BOOTSTRAP", ""))
    redis_url_env: str = field(default_factory=lambda: os.environ.get("REDIS_URL", ""))
    partitions: int = field(default_factory=lambda: int(_env("VIGIL_PARTITIONS", "4")))
    app_id: str = field(default_factory=lambda: _env("VIGIL_APP_ID", "vigil"))
    topic_prefix: str = field(default_factory=lambda: os.environ.get("VIGIL_TOPIC_PREFIX", ""))
    web_port: int = field(default_factory=lambda: int(_env("VIGIL_WEB_PORT", "16066")))
    metrics_port: int = field(default_factory=lambda: int(_env("VIGIL_METRICS_PORT", "19100")))
    dispatch_metrics_port: int = field(default_factory=lambda: int(_env("VIGIL_DISPATCH_METRICS_PORT", "19101")))
    ingest_port: int = field(default_factory=lambda: int(_env("VIGIL_INGEST_PORT", "18080")))
    lag_interval_s: float = field(default_factory=lambda: float(_env("VIGIL_LAG_INTERVAL_S", "5")))
    # the worker's batches: at most this many records, taken within this many milliseconds
    batch_max: int = field(default_factory=lambda: int(_env("VIGIL_BATCH_MAX", "200")))
    batch_wait_ms: int = field(default_factory=lambda: int(_env("VIGIL_BATCH_WAIT_MS", "50")))
    # how long the duplicate check remembers an ad id, and link state an idle identifier (both
    # capped by VIGIL_RETENTION_DAYS)
    dedupe_days: float = field(default_factory=lambda: float(_env("VIGIL_DEDUPE_DAYS", "7")))
    link_retention_days: float = field(default_factory=lambda: float(_env("VIGIL_LINK_RETENTION_DAYS", "30")))
    max_record_bytes: int = field(default_factory=lambda: int(_env("VIGIL_MAX_RECORD_BYTES", str(2 * 1024 * 1024))))
    # the local stack's mode: `plain` (no TLS, no passwords) or `secure` (`vigil stack up --secure`)
    stack_mode: str = field(default_factory=lambda: _env("VIGIL_STACK_MODE", "plain").lower())
    # how clients reach Kafka: plaintext, or sasl_ssl (TLS + SASL user and password)
    kafka_security: str = field(default_factory=lambda: _env("VIGIL_KAFKA_SECURITY", "plaintext").lower())
    kafka_sasl_mechanism: str = field(
        default_factory=lambda: _env("VIGIL_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512").upper())
    kafka_user: str = field(default_factory=lambda: os.environ.get("VIGIL_KAFKA_USER", ""))
    # secrets are read from files (0600, or a mounted secret), never from the environment itself
    kafka_password_file: str = field(default_factory=lambda: os.environ.get("VIGIL_KAFKA_PASSWORD_FILE", ""))
    # the CA that signed the broker's certificate (empty: the system's trusted CAs)
    kafka_ca_file: str = field(default_factory=lambda: os.environ.get("VIGIL_KAFKA_CA_FILE", ""))
    redis_user: str = field(default_factory=lambda: os.environ.get("VIGIL_REDIS_USER", ""))
    redis_password_file: str = field(default_factory=lambda: os.environ.get("VIGIL_REDIS_PASSWORD_FILE", ""))
    redis_ca_file: str = field(default_factory=lambda: os.environ.get("VIGIL_REDIS_CA_FILE", ""))
    # bearer tokens `vigil ingest --http` accepts, one per line (required beyond loopback)
    ingest_tokens_file: str = field(default_factory=lambda: os.environ.get("VIGIL_INGEST_TOKENS_FILE", ""))
    # where the HTTP listeners (/metrics, ingest) bind
    bind: str = field(default_factory=lambda: _env("VIGIL_BIND", "127.0.0.1"))
    # the investigator store and console (streams/store, streams/console)
    store_url_env: str = field(default_factory=lambda: os.environ.get("VIGIL_STORE_URL", ""))
    store_metrics_port: int = field(default_factory=lambda: int(_env("VIGIL_STORE_METRICS_PORT", "19102")))
    console_port: int = field(default_factory=lambda: int(_env("VIGIL_CONSOLE_PORT", "18800")))
    console_metrics_port: int = field(default_factory=lambda: int(_env("VIGIL_CONSOLE_METRICS_PORT", "19103")))
    # region of numbers searched in the console without a +code (ISO 3166 alpha-2)
    phone_region: str = field(default_factory=lambda: _env("VIGIL_PHONE_REGION", "US"))
    # the operator's overall cap, in days, on how long ads and identifiers are kept anywhere: the
    # investigator store purges older ads; Kafka topics, Redis link state, stored results and the
    # dedupe table's changelog never keep them longer (0: no cap)
    retention_days: float = field(default_factory=lambda: float(_env("VIGIL_RETENTION_DAYS", "365")))

    @property
    def retention_s(self) -> int | None:
        """VIGIL_RETENTION_DAYS in seconds, or None when it is 0 (no cap)."""
        return max(1, int(self.retention_days * 86400)) if self.retention_days > 0 else None

    def capped(self, ttl_s: int) -> int:
        """A time-to-live no longer than VIGIL_RETENTION_DAYS (per-kind settings use this as their cap)."""
        cap = self.retention_s
        return ttl_s if cap is None else min(ttl_s, cap)

    @property
    def external_kafka(self) -> bool:
        return bool(self.kafka_bootstrap_env)

    @property
    def external_redis(self) -> bool:
        return bool(self.redis_url_env)

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap_env or f"127.0.0.1:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        """REDIS_URL, else the local stack's Redis (`rediss://`, TLS only, in secure mode)."""
        scheme = "rediss" if self.stack_mode == "secure" else "redis"
        return self.redis_url_env or f"{scheme}://127.0.0.1:{self.redis_port}/0"

    @property
    def secure_stack_dir(self) -> Path:
        """The secure local stack's certificates, secrets and data (`vigil stack up --secure`)."""
        return self.stack_dir / "secure"

    @property
    def store_url(self) -> str:
        """The store's database: VIGIL_STORE_URL (e.g. postgresql+psycopg://…), else SQLite
        under the stack directory."""
        return self.store_url_env or f"sqlite:///{self.stack_dir / 'store' / 'vigil.db'}"

    @property
    def dedupe_ttl_s(self) -> int:
        """How long the duplicate check keeps an ad id (VIGIL_DEDUPE_DAYS, capped)."""
        return self.capped(max(1, int(self.dedupe_days * 86400)))

    @property
    def link_ttl_s(self) -> int:
        """How long link state keeps an identifier idle (VIGIL_LINK_RETENTION_DAYS, capped)."""
        return self.capped(max(1, int(self.link_retention_days * 86400)))

    def services_beyond_loopback(self) -> list[str]:
        """The settings that take vigil beyond this machine: a listener bound to a non-loopback
        address, or Kafka / Redis on another host (each named with its value)."""
        found = []
        if not is_loopback(self.bind):
            found.append(f"VIGIL_BIND={self.bind}")
        hosts = [h.strip().rpartition(":")[0] for h in self.kafka_bootstrap.split(",") if h.strip()]
        if not all(map(is_loopback, hosts)):
            found.append(f"KAFKA_BOOTSTRAP={self.kafka_bootstrap}")
        redis_host = urlsplit(self.redis_url).hostname or "127.0.0.1"
        if not is_loopback(redis_host):
            found.append(f"REDIS_URL={display_url(self.redis_url)}")
        return found

    @property
    def topics(self) -> Topics:
        p = self.topic_prefix
        base = Topics()
        return Topics(**{name: p + getattr(base, name) for name in base.__dataclass_fields__})


def load_settings() -> Settings:
    """Settings as the environment says now (read on every call, so tests can override)."""
    return Settings()


def redis_prefix(settings: Settings) -> str:
    """The prefix of every Redis key of this deployment or run (`vigil:` + the topic prefix)."""
    return f"vigil:{settings.topic_prefix}"


def app_id_for(settings: Settings) -> str:
    """The worker's app id: its consumer group's name."""
    return settings.app_id + (f"-{settings.topic_prefix.strip('.')}" if settings.topic_prefix else "")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or `localhost`; anything else (0.0.0.0 included) reaches beyond this machine."""
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def display_url(url: str) -> str:
    """A service URL fit for logs and messages: any password in it replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def validate_security(settings: Settings) -> list[str]:
    """What is wrong with the security settings, one line each naming the setting to fix."""
    problems = []
    if settings.stack_mode not in STACK_MODES:
        problems.append(f"VIGIL_STACK_MODE={settings.stack_mode!r}: use one of {', '.join(STACK_MODES)}")
    if settings.kafka_security not in KAFKA_SECURITY:
        problems.append(f"VIGIL_KAFKA_SECURITY={settings.kafka_security!r}: use one of {', '.join(KAFKA_SECURITY)}")
    elif settings.kafka_security == "sasl_ssl":
        if settings.kafka_sasl_mechanism not in SASL_MECHANISMS:
            problems.append(f"VIGIL_KAFKA_SASL_MECHANISM={settings.kafka_sasl_mechanism!r}: use one of "
                            f"{', '.join(SASL_MECHANISMS)}")
        if not settings.kafka_user:
            problems.append("VIGIL_KAFKA_SECURITY=sasl_ssl needs VIGIL_KAFKA_USER")
        if not settings.kafka_password_file:
            problems.append("VIGIL_KAFKA_SECURITY=sasl_ssl needs VIGIL_KAFKA_PASSWORD_FILE (a password file)")
    scheme = urlsplit(settings.redis_url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        problems.append(f"REDIS_URL: scheme {scheme!r} is not redis:// or rediss://")
    if settings.redis_ca_file and scheme != "rediss":
        problems.append(f"VIGIL_REDIS_CA_FILE is set but REDIS_URL is {scheme}:// (no TLS): use rediss://")
    return problems
