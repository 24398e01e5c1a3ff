"""Checks a process runs before it consumes or produces: Kafka and Redis answer with these
settings, and the log hash key is this deployment's own when vigil reaches beyond loopback.

Each failure is one line naming the setting to fix, found in well under a second. Without it
kafka-python retries a wrong password for 30 s and then says only "Unable to bootstrap";
aiokafka and librdkafka fail fast (or retry quietly) but put the cause only in a log line.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ssl
from urllib.parse import urlsplit

from streams.clients import SettingError, kafka_security_options, redis_client
from streams.config import Settings, display_url
from streams.errors import CliError
from streams.logs import BUILT_IN_HASH_KEY, log_hash_key, log_hash_key_setting

MIN_HASH_KEY_BYTES = 16


class PreflightError(CliError):
    """Kafka, Redis or a setting is not usable; one line per problem, each naming the setting."""


def _run(coro):
    """Run `coro` to its end from synchronous code, even when called inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


# ---------------------------------------------------------------- Kafka


async def _kafka_handshake(settings: Settings, options: dict, timeout_s: float) -> str | None:
    from aiokafka import AIOKafkaClient
    from aiokafka.conn import create_conn
    from aiokafka.errors import (
        IllegalSaslStateError,
        KafkaConnectionError,
        SaslAuthenticationFailed,
        UnsupportedSaslMechanismError,
    )

    first = settings.kafka_bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    if not host or not port.isdigit():
        return f"KAFKA_BOOTSTRAP={settings.kafka_bootstrap}: give host:port[,host:port...]"
    where = f"Kafka at {first}"
    tls = bool(options)
    ca = settings.kafka_ca_file or "unset, so the system's CAs"
    try:
        conn = await asyncio.wait_for(
            create_conn(host.strip("[]"), int(port), request_timeout_ms=int(timeout_s * 1000), **options),
            timeout_s)
        conn.close()
    except ssl.SSLCertVerificationError as exc:
        return (f"{where}: its TLS certificate is not trusted ({exc.verify_message}); check "
                f"VIGIL_KAFKA_CA_FILE ({ca}) and the host name in KAFKA_BOOTSTRAP")
    except SaslAuthenticationFailed:
        return (f"{where} refused user {settings.kafka_user!r}: wrong user name or password "
                f"({settings.kafka_sasl_mechanism}); check VIGIL_KAFKA_USER and VIGIL_KAFKA_PASSWORD_FILE")
    except (UnsupportedSaslMechanismError, IllegalSaslStateError) as exc:
        return (f"{where} does not accept SASL {settings.kafka_sasl_mechanism} ({type(exc).__name__}); "
                f"set VIGIL_KAFKA_SASL_MECHANISM to one it enables")
    except ConnectionRefusedError:
        return f"{where}: nothing listens there (is the broker up? check KAFKA_BOOTSTRAP or VIGIL_KAFKA_PORT)"
    except TimeoutError:
        hint = ("; does it expect TLS? set VIGIL_KAFKA_SECURITY=sasl_ssl" if not tls
                else "; is this its SASL_SSL listener?")
        return f"{where}: no answer to the handshake within {timeout_s:g} s{hint}"
    except ssl.SSLError as exc:
        return (f"{where}: the TLS handshake failed ({exc.reason or exc}); it may not speak TLS: set "
                f"VIGIL_KAFKA_SECURITY=plaintext, or point KAFKA_BOOTSTRAP at its SASL_SSL listener")
    except (KafkaConnectionError, ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
        if not tls:
            return (f"{where} closed the connection during the handshake: it seems to expect TLS and "
                    f"SASL; set VIGIL_KAFKA_SECURITY=sasl_ssl with VIGIL_KAFKA_USER, "
                    f"VIGIL_KAFKA_PASSWORD_FILE and VIGIL_KAFKA_CA_FILE")
        return (f"{where} closed the connection during the TLS/SASL handshake ({type(exc).__name__}); "
                f"is KAFKA_BOOTSTRAP its SASL_SSL listener?")
    client = AIOKafkaClient(bootstrap_servers=settings.kafka_bootstrap,
                            request_timeout_ms=int(timeout_s * 1000), **options)
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
    except Exception as exc:  # noqa: BLE001 - any failure here is reported as one line
        return (f"{where}: connected and authenticated, but reading the cluster's metadata failed "
                f"({type(exc).__name__}: {exc}); check the broker's advertised listeners")
    finally:
        await client.close()
    return None


def kafka_problem(settings: Settings, timeout_s: float = 5.0) -> str | None:
    """Why Kafka cannot be used with these settings (one line), or None when it can: one
    connection through TLS and SASL as every client would make it, then the cluster's metadata."""
    try:
        options = kafka_security_options(settings)
    except SettingError as exc:
        return str(exc)
    return _run(_kafka_handshake(settings, options, timeout_s))


# ---------------------------------------------------------------- Redis


def redis_problem(settings: Settings, timeout_s: float = 3.0) -> str | None:
    """Why Redis cannot be used with these settings (one line), or None when it answers PING."""
    import redis

    url = settings.redis_url
    where = f"Redis at {display_url(url)}"
    tls = urlsplit(url).scheme == "rediss"
    try:
        client = redis_client(settings, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    except SettingError as exc:
        return str(exc)
    user = client.connection_pool.connection_kwargs.get("username")
    has_password = client.connection_pool.connection_kwargs.get("password") is not None
    try:
        client.ping()
    except redis.AuthenticationError:
        if not has_password:
            return (f"{where} wants a user name and password: set VIGIL_REDIS_USER and "
                    f"VIGIL_REDIS_PASSWORD_FILE")
        return (f"{where} refused user {user or 'default'!r}: wrong user name or password, or the user "
                f"is disabled; check VIGIL_REDIS_USER and VIGIL_REDIS_PASSWORD_FILE")
    except redis.ConnectionError as exc:
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            reason = text.split("certificate verify failed:", 1)[-1].strip().rstrip(".)") or "not trusted"
            ca = settings.redis_ca_file or "unset, so the system's CAs"
            return (f"{where}: its TLS certificate is not trusted ({reason}); check VIGIL_REDIS_CA_FILE ({ca}) "
                    f"and the host name in REDIS_URL")
        if "refused" in text.lower():
            return f"{where}: nothing listens there (is Redis up? check REDIS_URL or VIGIL_REDIS_PORT)"
        if not tls:
            return (f"{where} closed the connection: it seems to expect TLS; use a rediss:// REDIS_URL "
                    f"with VIGIL_REDIS_CA_FILE")
        return (f"{where}: the TLS handshake failed ({text.splitlines()[0][:160]}); it may not speak TLS "
                f"(use redis://) or may want a client certificate")
    except redis.TimeoutError:
        return f"{where}: no answer within {timeout_s:g} s"
    except redis.ResponseError as exc:
        return f"{where} answered with an error: {exc}; check the user's ACL rules"
    finally:
        client.close()
    return None


# ---------------------------------------------------------------- the log hash key


def log_hash_key_problem(settings: Settings) -> str | None:
    """Beyond loopback (a listener on another address, Kafka or Redis on another host) log
    lines must hash identifiers with this deployment's own key, not the built-in one."""
    beyond = settings.services_beyond_loopback()
    setting = log_hash_key_setting()
    try:
        key = log_hash_key()
    except (OSError, ValueError) as exc:
        return f"{setting}: cannot read the log hash key ({exc})"
    if not beyond:
        return None
    if setting is None or key == BUILT_IN_HASH_KEY.encode():
        return (f"{beyond[0]} takes vigil beyond this machine, where the built-in log hash key would let "
                f"anyone reverse hashed phone numbers in the logs: set VIGIL_LOG_HASH_KEY_FILE to a file "
                f"holding this deployment's secret key (e.g. `openssl rand -hex 32`)")
    if len(key) < MIN_HASH_KEY_BYTES:
        return f"{setting}: the log hash key is shorter than {MIN_HASH_KEY_BYTES} bytes"
    return None


def preflight(settings: Settings, *, kafka: bool = True, redis: bool = True) -> None:
    """Raise PreflightError (one line per problem) unless the log hash key, Kafka and Redis
    (as asked) are usable with these settings."""
    problems = [log_hash_key_problem(settings),
                kafka_problem(settings) if kafka else None,
                redis_problem(settings) if redis else None]
    found = [p for p in problems if p]
    if found:
        raise PreflightError("\n".join(found))
