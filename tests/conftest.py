"""Shared fixtures: the real local stack (Kafka KRaft + Redis) started by the project's launcher."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.config import load_settings
from streams.stack.launcher import StackInfo, services


@pytest.fixture(scope="session")
def stack() -> Iterator[StackInfo]:
    """The real broker and Redis (`streams.stack.launcher.services`): started if they are not up,
    and stopped after the session only if it started them; a stack that was up (`vigil stack
    up`) stays up for the next run."""
    with services(load_settings(), kafka=True, redis=True) as info:
        yield info


@pytest.fixture
def topic_prefix(monkeypatch, request) -> Iterator[str]:
    """A unique topic prefix so a test's topics never collide with another run's; the test's
    topics are deleted afterwards, so a long-lived dev broker does not pile up partitions."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    monkeypatch.setenv("VIGIL_TOPIC_PREFIX", prefix)
    yield prefix
    if "stack" in request.fixturenames:
        from streams.broker.topics import delete_prefixed_topics
        from streams.config import app_id_for

        delete_prefixed_topics(request.getfixturevalue("stack").kafka_bootstrap, prefix,
                               app_id_for(load_settings()) + "-")


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server (Debian's package) on 127.0.0.1:VIGIL_TEST_PG_PORT for the session."""
    from streams.store.throwaway_pg import PostgresServer, configured_port

    server = PostgresServer(configured_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """A fresh, empty store database: a SQLite file, or a new database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres").create_database(f"t{uuid.uuid4().hex[:12]}")


# lines the Prometheus integration test records (each dashboard panel and rule it checked);
# printed at the end of the run so `make test` names them
PROMETHEUS_CHECKS = pytest.StashKey[list]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    checks = config.stash.get(PROMETHEUS_CHECKS, [])
    if checks:
        terminalreporter.section(f"checked against a live Prometheus ({len(checks)})")
        for line in checks:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(config, items):
    """Tests under tests/integration, tests/e2e and tests/faults are marked so
    `-m "not integration"` works."""
    tests_dir = Path(__file__).resolve().parent
    for item in items:
        try:  # the folder under tests/ (the checkout's own path may contain any name)
            folder = Path(item.fspath).resolve().relative_to(tests_dir).parts[0]
        except ValueError:
            continue
        if folder in ("integration", "e2e", "faults"):
            item.add_marker(pytest.mark.integration)
        if folder in ("e2e", "faults"):
            item.add_marker(getattr(pytest.mark, folder))
