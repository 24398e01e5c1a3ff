"""The secure local stack's material and configuration: `vigil stack up --secure`.

Under `.stack/secure/`: a CA and server certificate made on the spot (`tls/`), random secrets
in 0600 files (`secrets/`: Kafka and Redis passwords of an admin and an app user, ingest bearer
tokens, the log hash key), the broker's and Redis's data, and `secure.env`, the settings a
process needs to use them. Kafka listens SASL_SSL (SCRAM-SHA-512) for clients and brokers, and
its controller listener takes only TLS clients holding a certificate from the stack's CA; Redis
listens TLS only, its default user off, the app user limited to vigil's keys and channels.
Passwords go into 0600 files (server.properties, redis.conf, a java @argument file), never
onto a command line, where `ps` would show them.
"""

from __future__ import annotations

import os
import secrets
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from streams.config import REDIS_AOF_REWRITE, Settings
from streams.errors import CliError
from streams.stack.certs import CertificateFiles, days_left, make_certificates

ADMIN_USER = "vigil-admin"
APP_USER = "vigil-app"
SASL_MECHANISM = "SCRAM-SHA-512"
RENEW_BEFORE_DAYS = 30
# the app user: vigil's keys and channels only, no admin or dangerous command (KEYS, FLUSH*,
# CONFIG, INFO, CLIENT KILL ...); @connection for RESP3's HELLO AUTH, &vigil:* for the banks' pub/sub
REDIS_APP_RULES = ("resetkeys ~vigil:* resetchannels &vigil:* -@all +@read +@write +@connection "
                   "+@scripting +@transaction +@pubsub -@dangerous -script|flush -function|flush")


@dataclass(frozen=True)
class SecureStack:
    """Where the secure local stack keeps its certificates, secrets, data and settings."""

    home: Path

    @property
    def tls(self) -> CertificateFiles:
        return CertificateFiles.under(self.home / "tls")

    @property
    def keystore(self) -> Path:
        """The broker's PEM keystore: its private key followed by the certificate chain."""
        return self.home / "tls" / "keystore.pem"

    def secret(self, name: str) -> Path:
        return self.home / "secrets" / name

    @property
    def kafka_home(self) -> Path:
        return self.home / "kafka"

    @property
    def redis_home(self) -> Path:
        return self.home / "redis"

    @property
    def env_file(self) -> Path:
        return self.home / "secure.env"


SECRETS = ("kafka-admin.password", "kafka-app.password", "redis-admin.password", "redis-app.password",
           "log-hash-key")


def secure_stack(settings: Settings) -> SecureStack:
    return SecureStack(settings.secure_stack_dir)


def _write_private(path: Path, text: str, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, mode)


def _new_secret() -> str:
    # URL-safe characters only: no quoting needed in JAAS, SCRAM arguments, redis.conf or ACL files
    return secrets.token_urlsafe(32) + "\n"


TOKENS_HEADER = "# bearer tokens for POST /ads, one per line (add the new one, then drop the old)\n"


def prepare(settings: Settings) -> SecureStack:
    """Certificates and secrets, made once and kept (a certificate within RENEW_BEFORE_DAYS of
    expiry is made again); folders 0700, secret files 0600."""
    stack = secure_stack(settings)
    for folder in (stack.home, stack.home / "tls", stack.home / "secrets", stack.kafka_home, stack.redis_home):
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    if not stack.tls.exist() or days_left(stack.tls.server) < RENEW_BEFORE_DAYS:
        make_certificates(stack.home / "tls")
        stack.keystore.unlink(missing_ok=True)
    if not stack.keystore.exists():
        _write_private(stack.keystore, stack.tls.server_key.read_text() + stack.tls.server.read_text())
    for name in SECRETS:
        if not stack.secret(name).exists():
            _write_private(stack.secret(name), _new_secret())
    if not stack.secret("ingest-tokens").exists():
        _write_private(stack.secret("ingest-tokens"), TOKENS_HEADER + _new_secret())
    return stack


def _secret(stack: SecureStack, name: str) -> str:
    return stack.secret(name).read_text(encoding="utf-8").strip()


def client_settings(settings: Settings) -> Settings:
    """The settings of a client of the local stack as it runs in `settings.stack_mode`, whatever
    this process's environment says about security (the launcher checks its own stack this way)."""
    local = replace(settings, kafka_bootstrap_env="", redis_url_env="")
    if settings.stack_mode != "secure":
        return replace(local, kafka_security="plaintext", redis_user="", redis_password_file="",
                       redis_ca_file="")
    stack = secure_stack(settings)
    return replace(local, kafka_security="sasl_ssl", kafka_sasl_mechanism=SASL_MECHANISM, kafka_user=APP_USER,
                   kafka_password_file=str(stack.secret("kafka-app.password")),
                   kafka_ca_file=str(stack.tls.ca), redis_user=APP_USER,
                   redis_password_file=str(stack.secret("redis-app.password")),
                   redis_ca_file=str(stack.tls.ca))


def environment(settings: Settings) -> dict[str, str]:
    """What a process needs in its environment to use the secure local stack."""
    stack = secure_stack(settings)
    return {
        "VIGIL_STACK_MODE": "secure",
        "VIGIL_STACK_DIR": str(settings.stack_dir.resolve()),
        "VIGIL_KAFKA_PORT": str(settings.kafka_port),
        "VIGIL_KAFKA_CONTROLLER_PORT": str(settings.controller_port),
        "VIGIL_REDIS_PORT": str(settings.redis_port),
        "VIGIL_KAFKA_SECURITY": "sasl_ssl",
        "VIGIL_KAFKA_SASL_MECHANISM": SASL_MECHANISM,
        "VIGIL_KAFKA_USER": APP_USER,
        "VIGIL_KAFKA_PASSWORD_FILE": str(stack.secret("kafka-app.password").resolve()),
        "VIGIL_KAFKA_CA_FILE": str(stack.tls.ca.resolve()),
        "VIGIL_REDIS_USER": APP_USER,
        "VIGIL_REDIS_PASSWORD_FILE": str(stack.secret("redis-app.password").resolve()),
        "VIGIL_REDIS_CA_FILE": str(stack.tls.ca.resolve()),
        "VIGIL_INGEST_TOKENS_FILE": str(stack.secret("ingest-tokens").resolve()),
        "VIGIL_LOG_HASH_KEY_FILE": str(stack.secret("log-hash-key").resolve()),
    }


def write_env_file(settings: Settings) -> Path:
    """`secure.env`: the environment above as shell assignments (paths to secrets, no secret)."""
    stack = secure_stack(settings)
    lines = ["# vigil: the settings of the secure local stack (written by `vigil stack up --secure`).",
             f"# Load them into a shell with:  set -a; . {shlex.quote(str(stack.env_file.resolve()))}; set +a",
             *(f"{name}={shlex.quote(value)}" for name, value in environment(settings).items())]
    stack.env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return stack.env_file


# ---------------------------------------------------------------- Kafka


def _jaas(user: str, password: str) -> str:
    return f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{user}" password="{password}";'


def kafka_listener_lines(settings: Settings) -> list[str]:
    """server.properties lines of the secure broker: SASL_SSL for clients and between brokers,
    the controller listener on TLS with client certificates required, PEM files throughout."""
    stack = secure_stack(settings)
    kp, cp = settings.kafka_port, settings.controller_port
    return [
        f"listeners=SASL_SSL://127.0.0.1:{kp},CONTROLLER://127.0.0.1:{cp}",
        f"advertised.listeners=SASL_SSL://127.0.0.1:{kp},CONTROLLER://127.0.0.1:{cp}",
        "inter.broker.listener.name=SASL_SSL",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL",
        # only a holder of a certificate from the stack's CA (the broker itself) reaches the controller
        "listener.name.controller.ssl.client.auth=required",
        f"sasl.enabled.mechanisms={SASL_MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={SASL_MECHANISM}",
        # mandatory even on one node: the credentials the broker would use towards other brokers
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
        + _jaas(ADMIN_USER, _secret(stack, "kafka-admin.password")),
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={stack.keystore.resolve()}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={stack.tls.ca.resolve()}",
        "ssl.endpoint.identification.algorithm=https",
    ]


def scram_format_arguments(settings: Settings) -> list[str]:
    """StorageTool format's `--add-scram` arguments: the SCRAM users exist from the first start."""
    stack = secure_stack(settings)
    args = []
    for user, name in ((ADMIN_USER, "kafka-admin.password"), (APP_USER, "kafka-app.password")):
        args += ["--add-scram", f"{SASL_MECHANISM}=[name={user},password={_secret(stack, name)}]"]
    return args


def write_argument_file(path: Path, arguments: list[str]) -> Path:
    """A java @argument file (0600): java reads the main class and its arguments from it, so the
    passwords among them never appear on the command line."""
    for arg in arguments:
        if any(c in arg for c in " \t\n\"'#"):
            raise ValueError(f"argument {arg.split('=')[0]!r} needs quoting; not supported here")
    _write_private(path, "\n".join(arguments) + "\n")
    return path


# ---------------------------------------------------------------- Redis


def redis_acl_lines(admin_password: str, app_password: str) -> list[str]:
    """The users of a secure Redis: default off, an admin, and the app user vigil runs as."""
    return ["user default off resetpass resetkeys resetchannels -@all",
            f"user {ADMIN_USER} on >{admin_password} ~* &* +@all",
            f"user {APP_USER} on >{app_password} {REDIS_APP_RULES}"]


def redis_config(settings: Settings) -> str:
    """redis.conf of the secure Redis: TLS only, default user off, an admin and an app user."""
    stack = secure_stack(settings)
    tls = stack.tls
    return "\n".join([
        "# written by `vigil stack up --secure` (holds passwords: mode 0600)",
        "bind 127.0.0.1",
        "port 0",
        f"tls-port {settings.redis_port}",
        f"tls-cert-file {tls.server.resolve()}",
        f"tls-key-file {tls.server_key.resolve()}",
        f"tls-ca-cert-file {tls.ca.resolve()}",
        "tls-auth-clients no",
        'tls-protocols "TLSv1.2 TLSv1.3"',
        "protected-mode yes",
        f"dir {stack.redis_home.resolve()}",
        "appendonly yes",
        "appendfsync everysec",
        *(f"{name} {value}" for name, value in REDIS_AOF_REWRITE.items()),
        'save ""',
        "daemonize no",
        *redis_acl_lines(_secret(stack, "redis-admin.password"), _secret(stack, "redis-app.password")),
        "",
    ])


def write_redis_config(settings: Settings) -> Path:
    path = secure_stack(settings).redis_home / "redis.conf"
    _write_private(path, redis_config(settings))
    return path


# ---------------------------------------------------------------- material for a deployment


def write_deployment_secrets(folder: Path, hosts: tuple[str, ...], *, shared_mode: int = 0o600) -> list[Path]:
    """The material of a secured deployment in one folder (0700): a CA and a server certificate
    for `hosts` (Kafka's PEM keystore beside them), passwords of the Kafka and Redis admin and app
    users, Redis's ACL file, ingest tokens and the log hash key. Files already there are kept.
    `shared_mode` is the mode of the files services read (0644 where containers run as users
    other than the folder's owner: the 0700 folder keeps the host's other users out); the CA's
    key stays 0600. Returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    written: list[Path] = []
    tls = CertificateFiles.under(folder)
    if not tls.exist():
        make_certificates(folder, names=hosts)
        os.chmod(tls.server_key, shared_mode)  # Redis reads it; the CA's key stays 0600
        written += [tls.ca, tls.ca_key, tls.server, tls.server_key]
    keystore = folder / "kafka-keystore.pem"
    if not keystore.exists():
        _write_private(keystore, tls.server_key.read_text() + tls.server.read_text(), shared_mode)
        written.append(keystore)
    for name in ("kafka-admin.password", "kafka-app.password", "redis-admin.password", "redis-app.password",
                 "log-hash-key"):
        if not (folder / name).exists():
            _write_private(folder / name, _new_secret(), shared_mode)
            written.append(folder / name)
    if not (folder / "ingest-tokens").exists():
        _write_private(folder / "ingest-tokens", TOKENS_HEADER + _new_secret(), shared_mode)
        written.append(folder / "ingest-tokens")
    acl = folder / "redis-users.acl"
    if not acl.exists():
        lines = redis_acl_lines((folder / "redis-admin.password").read_text().strip(),
                                (folder / "redis-app.password").read_text().strip())
        _write_private(acl, "\n".join(lines) + "\n", shared_mode)
        written.append(acl)
    return written


def _cmd_secrets(args) -> int:
    hosts = tuple(h.strip() for h in args.hosts.split(",") if h.strip())
    if not hosts:
        raise CliError("--hosts: give the names clients use to reach Kafka and Redis, e.g. kafka,redis")
    written = write_deployment_secrets(Path(args.folder), hosts, shared_mode=0o644 if args.containers else 0o600)
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} files written, the others kept; certificate for {', '.join(hosts)}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("secrets", help="make the certificates, passwords and tokens of a secured deployment")
    p.add_argument("folder", help="where to write them (made 0700), e.g. deploy/secrets")
    p.add_argument("--hosts", default="kafka,redis,localhost,127.0.0.1",
                   help="names on the server certificate (default: %(default)s)")
    p.add_argument("--containers", action="store_true",
                   help="files services read get mode 0644 (containers run as other users); the folder stays 0700")
    p.set_defaults(func=_cmd_secrets)
