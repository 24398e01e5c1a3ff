"""Every Kafka and Redis client vigil builds, built here from Settings: address, TLS and credentials
in one place, so each command speaks to a secured Kafka or Redis by settings alone.

- Kafka, `VIGIL_KAFKA_SECURITY=plaintext` (the local stack): the address only.
- Kafka, `sasl_ssl`: TLS, the broker's certificate checked against `VIGIL_KAFKA_CA_FILE` (or the
  system's CAs) and its host name, then SASL (`VIGIL_KAFKA_SASL_MECHANISM`, SCRAM-SHA-512 by
  default) as `VIGIL_KAFKA_USER` with the password in `VIGIL_KAFKA_PASSWORD_FILE`.
- Redis, `rediss://` URL: TLS checked against `VIGIL_REDIS_CA_FILE` (or the system's CAs), ACL
  user `VIGIL_REDIS_USER` (or `user@` in the URL), password in `VIGIL_REDIS_PASSWORD_FILE`.

kafka-python (producer, consumer, admin), aiokafka (producer, consumer, one connection),
confluent-kafka (the worker's consumer and idempotent producer) and redis-py (sync and asyncio)
all take their options from here. Secrets are read when a client is
built, never kept in Settings, and never logged.
"""

from __future__ import annotations

import logging
import os
import ssl
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from streams.config import Settings, load_settings, validate_security
from streams.errors import CliError

log = logging.getLogger(__name__)

_warned_readable: set[str] = set()


class SettingError(CliError):
    """A security setting that cannot be used as given; the message names the setting."""


def check_settings(settings: Settings) -> None:
    """Raise SettingError with every problem of the security settings, one per line."""
    problems = validate_security(settings)
    if problems:
        raise SettingError("; ".join(problems))


def read_secret(setting: str, path: str) -> str:
    """The secret in the file `setting` names (one trailing newline dropped); a missing,
    unreadable or empty file is a SettingError naming the setting and the path."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SettingError(f"{setting}={path}: no such file") from exc
    except PermissionError as exc:
        raise SettingError(f"{setting}={path}: this user may not read it") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingError(f"{setting}={path}: cannot read it ({exc})") from exc
    secret = text.rstrip("\r\n")
    if not secret.strip():
        raise SettingError(f"{setting}={path}: the file is empty")
    _warn_if_world_readable(setting, path)
    return secret


def _warn_if_world_readable(setting: str, path: str) -> None:
    """A secret others may read: warned about once (not refused: a mounted secret's mode is not
    always the reader's to choose). A file in a folder others cannot enter is safe as it is."""
    try:
        mode = os.stat(path).st_mode
        folder_mode = os.stat(os.path.dirname(os.path.abspath(path))).st_mode
    except OSError:
        return
    if mode & (stat.S_IROTH | stat.S_IWOTH) and folder_mode & stat.S_IXOTH and path not in _warned_readable:
        _warned_readable.add(path)
        log.warning("%s=%s can be read by every user of this machine (mode %o): chmod 600 it",
                    setting, path, stat.S_IMODE(mode))


def tls_context(setting: str, ca_file: str) -> ssl.SSLContext:
    """A client TLS context that checks the server's certificate and host name against the CA in
    `ca_file` (empty: the system's trusted CAs)."""
    if not ca_file:
        return ssl.create_default_context()
    if not os.path.isfile(ca_file):
        raise SettingError(f"{setting}={ca_file}: no such file")
    try:
        return ssl.create_default_context(cafile=ca_file)
    except PermissionError as exc:
        raise SettingError(f"{setting}={ca_file}: this user may not read it") from exc
    except (ssl.SSLError, OSError) as exc:
        raise SettingError(f"{setting}={ca_file}: not a PEM CA certificate "
                           f"({getattr(exc, 'reason', None) or exc})") from exc


# ---------------------------------------------------------------- Kafka


def kafka_security_options(settings: Settings) -> dict[str, Any]:
    """The options kafka-python and aiokafka share for TLS and SASL (empty for plaintext)."""
    check_settings(settings)
    if settings.kafka_security == "plaintext":
        return {}
    return {
        "security_protocol": "SASL_SSL",
        "ssl_context": tls_context("VIGIL_KAFKA_CA_FILE", settings.kafka_ca_file),
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_user,
        "sasl_plain_password": read_secret("VIGIL_KAFKA_PASSWORD_FILE", settings.kafka_password_file),
    }


def kafka_options(settings: Settings | None = None, bootstrap: str | None = None) -> dict[str, Any]:
    """`bootstrap_servers` plus the security options, for any kafka-python or aiokafka client.
    `bootstrap` overrides the address only; security always comes from the settings."""
    settings = settings or load_settings()
    return {"bootstrap_servers": bootstrap or settings.kafka_bootstrap, **kafka_security_options(settings)}


def kafka_producer(settings: Settings | None = None, *, bootstrap: str | None = None, **kwargs):
    """A kafka-python KafkaProducer."""
    from kafka import KafkaProducer

    return KafkaProducer(**kafka_options(settings, bootstrap), **kwargs)


def kafka_consumer(*topics: str, settings: Settings | None = None, bootstrap: str | None = None, **kwargs):
    """A kafka-python KafkaConsumer (subscribed to `topics`, if any)."""
    from kafka import KafkaConsumer

    return KafkaConsumer(*topics, **kafka_options(settings, bootstrap), **kwargs)


def kafka_admin(settings: Settings | None = None, *, bootstrap: str | None = None, **kwargs):
    """A kafka-python KafkaAdminClient."""
    from kafka import KafkaAdminClient

    return KafkaAdminClient(**kafka_options(settings, bootstrap), **kwargs)


def aio_producer(settings: Settings | None = None, **kwargs):
    """An aiokafka AIOKafkaProducer (not started)."""
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(**kafka_options(settings), **kwargs)


def aio_consumer(*topics: str, settings: Settings | None = None, **kwargs):
    """An aiokafka AIOKafkaConsumer (not started)."""
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(*topics, **kafka_options(settings), **kwargs)


def confluent_options(settings: Settings | None = None) -> dict[str, Any]:
    """librdkafka's configuration for `bootstrap.servers` and TLS + SASL (confluent-kafka)."""
    settings = settings or load_settings()
    check_settings(settings)
    config: dict[str, Any] = {"bootstrap.servers": settings.kafka_bootstrap}
    if settings.kafka_security == "plaintext":
        return config
    if settings.kafka_ca_file:
        tls_context("VIGIL_KAFKA_CA_FILE", settings.kafka_ca_file)  # a clear error now, not at connect
        config["ssl.ca.location"] = settings.kafka_ca_file
    config.update({
        "security.protocol": "SASL_SSL",
        "ssl.endpoint.identification.algorithm": "https",
        "sasl.mechanisms": settings.kafka_sasl_mechanism,
        "sasl.username": settings.kafka_user,
        "sasl.password": read_secret("VIGIL_KAFKA_PASSWORD_FILE", settings.kafka_password_file),
    })
    return config


def confluent_consumer(settings: Settings | None = None, **config: Any):
    """A confluent-kafka Consumer; `config` holds librdkafka settings (group.id, ...)."""
    from confluent_kafka import Consumer

    return Consumer({**confluent_options(settings), **config}, logger=logging.getLogger("librdkafka"))


def confluent_producer(settings: Settings | None = None, **config: Any):
    """A confluent-kafka Producer; `config` holds librdkafka settings (acks, ...)."""
    from confluent_kafka import Producer

    return Producer({**confluent_options(settings), **config}, logger=logging.getLogger("librdkafka"))


# ---------------------------------------------------------------- Redis


def redis_options(settings: Settings | None = None, url: str | None = None) -> tuple[str, dict[str, Any]]:
    """(URL, keyword options) for redis-py's `from_url`, sync or asyncio: user, password from its
    file, and for `rediss://` the CA to check the server's certificate against."""
    settings = settings or load_settings()
    check_settings(settings)
    url = url or settings.redis_url
    parts = urlsplit(url)
    options: dict[str, Any] = {}
    if settings.redis_user:
        if parts.username and parts.username != settings.redis_user:
            raise SettingError(f"REDIS_URL names user {parts.username!r} and VIGIL_REDIS_USER "
                               f"{settings.redis_user!r}: give the user once")
        options["username"] = settings.redis_user
    if settings.redis_password_file:
        if parts.password:
            raise SettingError("REDIS_URL holds a password and VIGIL_REDIS_PASSWORD_FILE is set: "
                               "keep it in the file only")
        options["password"] = read_secret("VIGIL_REDIS_PASSWORD_FILE", settings.redis_password_file)
    if parts.scheme == "rediss" and settings.redis_ca_file:
        tls_context("VIGIL_REDIS_CA_FILE", settings.redis_ca_file)  # a clear error now, not at connect
        options["ssl_ca_certs"] = settings.redis_ca_file
    return url, options


def redis_client(settings: Settings | None = None, *, url: str | None = None, **kwargs):
    """A redis-py client (sync)."""
    import redis

    url, options = redis_options(settings, url)
    return redis.Redis.from_url(url, **options, **kwargs)


def async_redis_client(settings: Settings | None = None, *, url: str | None = None, **kwargs):
    """A redis-py asyncio client."""
    import redis.asyncio as aioredis

    url, options = redis_options(settings, url)
    return aioredis.Redis.from_url(url, **options, **kwargs)
