"""Security settings turned into client options, secrets read from files, the log hash key
policy and the secure stack's generated configuration (no services: tests/integration/
test_secure_stack.py runs them against the real broker and Redis)."""

from __future__ import annotations

import os
import socket
import ssl
import stat
import threading

import pytest

from streams import clients
from streams.config import Settings, display_url, is_loopback, validate_security
from streams.logs import hashed
from streams.preflight import kafka_problem, log_hash_key_problem, redis_problem
from streams.stack import secure
from streams.stack.certs import make_certificates

SECURITY_ENV = ("KAFKA_BOOTSTRAP", "REDIS_URL", "VIGIL_BIND", "VIGIL_STACK_MODE", "VIGIL_KAFKA_SECURITY",
                "VIGIL_KAFKA_SASL_MECHANISM", "VIGIL_KAFKA_USER", "VIGIL_KAFKA_PASSWORD_FILE", "VIGIL_KAFKA_CA_FILE",
                "VIGIL_REDIS_USER", "VIGIL_REDIS_PASSWORD_FILE", "VIGIL_REDIS_CA_FILE", "VIGIL_INGEST_TOKENS_FILE",
                "VIGIL_LOG_HASH_KEY", "VIGIL_LOG_HASH_KEY_FILE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in SECURITY_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("tls"))


def secret_file(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o600)
    return path


def sasl_env(monkeypatch, tmp_path, certs) -> None:
    monkeypatch.setenv("VIGIL_KAFKA_SECURITY", "sasl_ssl")
    monkeypatch.setenv("VIGIL_KAFKA_USER", "vigil-app")
    monkeypatch.setenv("VIGIL_KAFKA_PASSWORD_FILE", str(secret_file(tmp_path, "kafka.pw", "s3cret-kafka\n")))
    monkeypatch.setenv("VIGIL_KAFKA_CA_FILE", str(certs.ca))


# ---------------------------------------------------------------- Kafka options


def test_plaintext_kafka_options_are_the_address_only():
    assert clients.kafka_options(Settings()) == {"bootstrap_servers": Settings().kafka_bootstrap}
    assert clients.kafka_options(Settings(), "10.0.0.1:9092") == {"bootstrap_servers": "10.0.0.1:9092"}
    assert clients.confluent_options(Settings()) == {"bootstrap.servers": Settings().kafka_bootstrap}


def test_sasl_ssl_options_carry_tls_checked_against_the_ca_and_the_password_from_its_file(
        monkeypatch, tmp_path, certs):
    sasl_env(monkeypatch, tmp_path, certs)
    options = clients.kafka_options(Settings())
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "vigil-app"
    assert options["sasl_plain_password"] == "s3cret-kafka"  # the trailing newline is not part of it
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "vigil local CA"),),)]
    # the worker's confluent-kafka clients: TLS with the host name checked against the same CA
    config = clients.confluent_options(Settings())
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanisms"] == "SCRAM-SHA-512"
    assert config["ssl.ca.location"] == str(certs.ca)
    assert config["ssl.endpoint.identification.algorithm"] == "https"
    assert config["sasl.username"] == "vigil-app" and config["sasl.password"] == "s3cret-kafka"


@pytest.mark.parametrize(("setting", "value", "says"), [
    ("VIGIL_KAFKA_PASSWORD_FILE", "/nonexistent/k.pw", "VIGIL_KAFKA_PASSWORD_FILE=/nonexistent/k.pw: no such file"),
    ("VIGIL_KAFKA_CA_FILE", "/nonexistent/ca.pem", "VIGIL_KAFKA_CA_FILE=/nonexistent/ca.pem: no such file"),
    ("VIGIL_KAFKA_SECURITY", "ssl", "VIGIL_KAFKA_SECURITY='ssl': use one of plaintext, sasl_ssl"),
    ("VIGIL_KAFKA_SASL_MECHANISM", "scram_sha_512", "VIGIL_KAFKA_SASL_MECHANISM='SCRAM_SHA_512'"),
    ("VIGIL_KAFKA_USER", "", "VIGIL_KAFKA_SECURITY=sasl_ssl needs VIGIL_KAFKA_USER"),
])
def test_each_unusable_kafka_setting_is_named(monkeypatch, tmp_path, certs, setting, value, says):
    sasl_env(monkeypatch, tmp_path, certs)
    monkeypatch.setenv(setting, value)
    with pytest.raises(clients.SettingError, match=None) as caught:
        clients.kafka_options(Settings())
    assert says in str(caught.value)
    # the preflight reports the same line instead of trying to connect
    assert says in kafka_problem(Settings())


def test_an_empty_or_unreadable_secret_and_a_ca_that_is_no_certificate_are_named(monkeypatch, tmp_path, certs):
    sasl_env(monkeypatch, tmp_path, certs)
    monkeypatch.setenv("VIGIL_KAFKA_PASSWORD_FILE", str(secret_file(tmp_path, "empty.pw", "\n")))
    with pytest.raises(clients.SettingError, match="the file is empty"):
        clients.kafka_options(Settings())
    monkeypatch.setenv("VIGIL_KAFKA_PASSWORD_FILE", str(secret_file(tmp_path, "ok.pw", "pw")))
    monkeypatch.setenv("VIGIL_KAFKA_CA_FILE", str(secret_file(tmp_path, "ca.pem", "not a certificate")))
    with pytest.raises(clients.SettingError, match="VIGIL_KAFKA_CA_FILE=.*: not a PEM CA certificate"):
        clients.kafka_options(Settings())


def test_a_secret_file_others_can_read_is_warned_about_once(monkeypatch, tmp_path, certs, caplog):
    sasl_env(monkeypatch, tmp_path, certs)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)  # a folder every user may enter ...
    loose = secret_file(shared, "loose.pw", "hunter2-secret")
    loose.chmod(0o644)  # ... and a file every user may read
    monkeypatch.setenv("VIGIL_KAFKA_PASSWORD_FILE", str(loose))
    clients.kafka_options(Settings())
    clients.kafka_options(Settings())
    warnings = [r for r in caplog.records if "can be read by every user" in r.getMessage()]
    assert len(warnings) == 1 and "chmod 600" in warnings[0].getMessage()
    assert "hunter2" not in caplog.text  # the secret itself is never logged
    caplog.clear()
    guarded = tmp_path / "guarded"
    guarded.mkdir(mode=0o700)
    inside = secret_file(guarded, "inside.pw", "hunter2-secret")
    inside.chmod(0o644)  # readable, but nobody else can enter the folder (a 0700 secrets folder)
    monkeypatch.setenv("VIGIL_KAFKA_PASSWORD_FILE", str(inside))
    clients.kafka_options(Settings())
    assert "can be read by every user" not in caplog.text


# ---------------------------------------------------------------- Redis options


def test_redis_options_user_password_file_and_ca(monkeypatch, tmp_path, certs):
    monkeypatch.setenv("REDIS_URL", "rediss://redis.example.org:6380/0")
    monkeypatch.setenv("VIGIL_REDIS_USER", "vigil-app")
    monkeypatch.setenv("VIGIL_REDIS_PASSWORD_FILE", str(secret_file(tmp_path, "redis.pw", "s3cret-redis\n")))
    monkeypatch.setenv("VIGIL_REDIS_CA_FILE", str(certs.ca))
    url, options = clients.redis_options(Settings())
    assert url == "rediss://redis.example.org:6380/0"
    assert options == {"username": "vigil-app", "password": "s3cret-redis", "ssl_ca_certs": str(certs.ca)}
    client = clients.redis_client(Settings())
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["username"], kwargs["password"], kwargs["ssl_ca_certs"]) == ("vigil-app", "s3cret-redis",
                                                                                 str(certs.ca))
    assert client.connection_pool.connection_class.__name__ == "SSLConnection"


def test_redis_settings_that_contradict_each_other_are_refused(monkeypatch, tmp_path, certs):
    monkeypatch.setenv("REDIS_URL", "rediss://:inline@redis.example.org:6380/0")
    monkeypatch.setenv("VIGIL_REDIS_PASSWORD_FILE", str(secret_file(tmp_path, "redis.pw", "pw")))
    with pytest.raises(clients.SettingError, match="keep it in the file only"):
        clients.redis_options(Settings())
    monkeypatch.delenv("VIGIL_REDIS_PASSWORD_FILE")
    monkeypatch.setenv("REDIS_URL", "redis://redis.example.org:6379/0")
    monkeypatch.setenv("VIGIL_REDIS_CA_FILE", str(certs.ca))
    assert validate_security(Settings()) == [
        "VIGIL_REDIS_CA_FILE is set but REDIS_URL is redis:// (no TLS): use rediss://"]


def test_secure_stack_mode_makes_the_local_redis_url_tls_only(monkeypatch):
    assert Settings().redis_url.startswith("redis://127.0.0.1:")
    monkeypatch.setenv("VIGIL_STACK_MODE", "secure")
    assert Settings().redis_url.startswith("rediss://127.0.0.1:")


def test_urls_in_messages_never_show_a_password():
    assert display_url("rediss://app:hunter2@redis.example.org:6380/0") == "rediss://app:***@redis.example.org:6380/0"
    assert display_url("redis://127.0.0.1:16379/0") == "redis://127.0.0.1:16379/0"


# ---------------------------------------------------------------- the preflight without a service


def test_nothing_listening_is_one_line_naming_the_setting(monkeypatch):
    with socket.socket() as holder:  # a port that is certainly closed: bound, never listening
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        monkeypatch.setenv("KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")
        monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
        assert kafka_problem(Settings()) == (f"Kafka at 127.0.0.1:{port}: nothing listens there (is the broker up? "
                                             "check KAFKA_BOOTSTRAP or VIGIL_KAFKA_PORT)")
        assert redis_problem(Settings()) == (f"Redis at redis://127.0.0.1:{port}/0: nothing listens there (is Redis "
                                             "up? check REDIS_URL or VIGIL_REDIS_PORT)")


def test_a_bootstrap_without_a_port_is_named(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "kafka.internal")
    assert kafka_problem(Settings()) == "KAFKA_BOOTSTRAP=kafka.internal: give host:port[,host:port...]"


# ---------------------------------------------------------------- the log hash key


def test_loopback_and_beyond():
    assert all(map(is_loopback, ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost")))
    assert not any(map(is_loopback, ("0.0.0.0", "10.0.0.5", "kafka", "::")))


def test_the_built_in_log_hash_key_is_refused_beyond_loopback(monkeypatch, tmp_path):
    assert log_hash_key_problem(Settings()) is None  # on loopback the built-in key will do
    for name, value in (("VIGIL_BIND", "0.0.0.0"), ("KAFKA_BOOTSTRAP", "kafka.internal:9093"),
                        ("REDIS_URL", "rediss://app:pw@redis.internal:6380/0")):
        monkeypatch.setenv(name, value)
        problem = log_hash_key_problem(Settings())
        assert problem.startswith("VIGIL_BIND=0.0.0.0 takes vigil beyond this machine")
        assert "set VIGIL_LOG_HASH_KEY_FILE" in problem and "\n" not in problem
    monkeypatch.delenv("VIGIL_BIND")
    problem = log_hash_key_problem(Settings())
    assert problem.startswith("KAFKA_BOOTSTRAP=kafka.internal:9093 takes vigil beyond")
    monkeypatch.delenv("KAFKA_BOOTSTRAP")
    assert "REDIS_URL=rediss://app:***@redis.internal" in log_hash_key_problem(Settings())  # no password shown
    monkeypatch.setenv("VIGIL_LOG_HASH_KEY_FILE", str(secret_file(tmp_path, "short.key", "too-short\n")))
    assert log_hash_key_problem(Settings()) == "VIGIL_LOG_HASH_KEY_FILE: the log hash key is shorter than 16 bytes"
    monkeypatch.setenv("VIGIL_LOG_HASH_KEY_FILE", str(secret_file(tmp_path, "good.key", "k" * 40 + "\n")))
    assert log_hash_key_problem(Settings()) is None
    monkeypatch.setenv("VIGIL_LOG_HASH_KEY_FILE", str(tmp_path / "gone.key"))
    assert "cannot read the log hash key" in log_hash_key_problem(Settings())


def test_hashed_identifiers_use_the_key_from_the_file(monkeypatch, tmp_path):
    built_in = hashed("+17025550123")
    monkeypatch.setenv("VIGIL_LOG_HASH_KEY_FILE", str(secret_file(tmp_path, "a.key", "a" * 32 + "\n")))
    from_file = hashed("+17025550123")
    assert from_file != built_in
    monkeypatch.delenv("VIGIL_LOG_HASH_KEY_FILE")
    monkeypatch.setenv("VIGIL_LOG_HASH_KEY", "a" * 32)
    assert hashed("+17025550123") == from_file  # the same key, from the environment or a file


# ---------------------------------------------------------------- certificates and the secure stack


def test_the_certificates_make_a_tls_connection_that_checks_the_ip_address(certs):
    assert stat.S_IMODE(os.stat(certs.server_key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(certs.ca_key).st_mode) == 0o600
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certs.server, certs.server_key)
    client_context = ssl.create_default_context(cafile=certs.ca)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with server_context.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(tls.recv(5))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with socket.create_connection(("127.0.0.1", port)) as raw, \
                client_context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"hello")
            assert tls.recv(5) == b"hello"
        thread.join(5)


def test_a_foreign_ca_does_not_trust_the_server(certs, tmp_path):
    other = make_certificates(tmp_path / "other")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certs.server, certs.server_key)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def serve() -> None:
            conn, _ = listener.accept()
            try:
                server_context.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with socket.create_connection(listener.getsockname()) as raw, \
                pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context(cafile=other.ca).wrap_socket(raw, server_hostname="127.0.0.1")
        thread.join(5)


def test_the_secure_stack_material_and_configuration(monkeypatch, tmp_path):
    monkeypatch.setenv("VIGIL_STACK_DIR", str(tmp_path))
    monkeypatch.setenv("VIGIL_STACK_MODE", "secure")
    settings = Settings()
    stack = secure.prepare(settings)
    for name in (*secure.SECRETS, "ingest-tokens"):
        assert stat.S_IMODE(os.stat(stack.secret(name)).st_mode) == 0o600, name
    assert stat.S_IMODE(os.stat(stack.home).st_mode) == 0o700
    passwords = {name: stack.secret(name).read_text().strip() for name in secure.SECRETS}
    assert len(set(passwords.values())) == len(passwords) and all(len(p) >= 40 for p in passwords.values())
    assert secure.prepare(settings).secret("kafka-app.password").read_text().strip() == passwords[
        "kafka-app.password"], "made once, then kept"

    conf = secure.redis_config(settings)
    assert f"tls-port {settings.redis_port}" in conf and "\nport 0\n" in conf
    assert "user default off" in conf and "tls-auth-clients no" in conf
    assert f">{passwords['redis-app.password']} resetkeys ~vigil:* resetchannels &vigil:*" in conf
    lines = secure.kafka_listener_lines(settings)
    assert "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL" in lines
    assert "listener.name.controller.ssl.client.auth=required" in lines
    assert any(passwords["kafka-admin.password"] in line for line in lines)
    args = secure.scram_format_arguments(settings)
    assert args[1] == f"SCRAM-SHA-512=[name=vigil-admin,password={passwords['kafka-admin.password']}]"
    argfile = secure.write_argument_file(tmp_path / "format.args", ["kafka.tools.StorageTool", *args])
    assert stat.S_IMODE(os.stat(argfile).st_mode) == 0o600
    with pytest.raises(ValueError, match="needs quoting"):
        secure.write_argument_file(tmp_path / "x.args", ["--add-scram", "a b"])

    env = secure.environment(settings)
    assert env["VIGIL_KAFKA_PASSWORD_FILE"].endswith("secrets/kafka-app.password")
    env_text = secure.write_env_file(settings).read_text()
    assert not any(p in env_text for p in passwords.values()), "the env file names files, never a secret"
    client = secure.client_settings(settings)
    assert clients.kafka_options(client)["sasl_plain_password"] == passwords["kafka-app.password"]
    assert clients.redis_options(client)[1]["password"] == passwords["redis-app.password"]


def test_every_setting_the_secure_env_file_sets_is_one_the_code_reads(monkeypatch, tmp_path):
    from tests.unit.test_deploy_config import env_names_read_by_code

    monkeypatch.setenv("VIGIL_STACK_DIR", str(tmp_path))
    assert set(secure.environment(Settings())) <= env_names_read_by_code()


def test_the_secure_env_file_reads_back_with_shell_quoting(monkeypatch, tmp_path):
    from streams.bench.links import read_env_file

    spaced = tmp_path / "a stack dir"
    monkeypatch.setenv("VIGIL_STACK_DIR", str(spaced))
    settings = Settings()
    secure.prepare(settings)
    assert read_env_file(secure.write_env_file(settings)) == secure.environment(settings)


def test_a_deployments_material_in_one_folder(tmp_path):
    folder = tmp_path / "secrets"
    written = secure.write_deployment_secrets(folder, ("kafka", "redis"), shared_mode=0o644)
    names = {p.name for p in written}
    assert names == {"ca.pem", "ca.key", "server.pem", "server.key", "kafka-keystore.pem", "kafka-admin.password",
                     "kafka-app.password", "redis-admin.password", "redis-app.password", "redis-users.acl",
                     "ingest-tokens", "log-hash-key"}
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(folder / "ca.key").st_mode) == 0o600, "the CA's key never leaves its owner"
    assert stat.S_IMODE(os.stat(folder / "server.key").st_mode) == 0o644
    acl = (folder / "redis-users.acl").read_text().splitlines()
    assert acl[0] == "user default off resetpass resetkeys resetchannels -@all"
    assert acl[2].startswith(f"user vigil-app on >{(folder / 'redis-app.password').read_text().strip()} resetkeys")
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((folder / "server.pem").read_bytes())
    names_on_cert = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names_on_cert.get_values_for_type(x509.DNSName) == ["kafka", "redis"]
    assert secure.write_deployment_secrets(folder, ("kafka", "redis")) == [], "kept, not made again"
