"""Settings from the environment, with defaults that run on one machine's loopback."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


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
    # a worker's local table store (RocksDB): two workers on one machine need one each
    faust_dir_env: str = field(default_factory=lambda: os.environ.get("VIGIL_FAUST_DIR", ""))
    max_record_bytes: int = field(default_factory=lambda: int(_env("VIGIL_MAX_RECORD_BYTES", str(2 * 1024 * 1024))))

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
        return self.redis_url_env or f"redis://127.0.0.1:{self.redis_port}/0"

    def faust_dir(self, app_id: str) -> Path:
        """Where this worker keeps its table store: VIGIL_FAUST_DIR, else .stack/faust/<app id>."""
        return Path(self.faust_dir_env) if self.faust_dir_env else self.stack_dir / "faust" / app_id

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
    """The worker's Faust app id (its consumer group, table and changelog names)."""
    return settings.app_id + (f"-{settings.topic_prefix.strip('.')}" if settings.topic_prefix else "")
