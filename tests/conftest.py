"""Shared fixtures: the real local stack (Kafka KRaft + Redis) started by the project's launcher."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from streams.config import load_settings
from streams.stack import StackInfo, ensure_stack


@pytest.fixture(scope="session")
def stack() -> StackInfo:
    """The real broker and Redis, started by `streams.stack.ensure_stack` (idempotent)."""
    return ensure_stack(load_settings())


@pytest.fixture
def topic_prefix(monkeypatch, request) -> Iterator[str]:
    """A unique topic prefix so a test's topics never collide with another run's; the test's
    topics are deleted afterwards, so a long-lived dev broker does not pile up partitions."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    monkeypatch.setenv("VIGIL_TOPIC_PREFIX", prefix)
    yield prefix
    if "stack" in request.fixturenames:
        from streams.app import app_id_for
        from streams.topics import delete_prefixed_topics

        delete_prefixed_topics(request.getfixturevalue("stack").kafka_bootstrap, prefix,
                               app_id_for(load_settings()) + "-")


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
    """Tests under tests/integration and tests/e2e are marked so `-m "not integration"` works."""
    for item in items:
        path = str(item.fspath)
        if f"{os.sep}integration{os.sep}" in path:
            item.add_marker(pytest.mark.integration)
        if f"{os.sep}e2e{os.sep}" in path:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.e2e)
