"""Fixtures of the fault suite: one partition unless a test says otherwise, the corpus and its
clean (batch path) reference computed once, every process stopped and the test's Redis keys
removed at the end."""

from __future__ import annotations

import pytest

from streams.broker.topics import ensure_topics
from streams.config import load_settings, redis_prefix
from tests.faults.harness import Processes, delete_redis_prefix, make_corpus, reference_run


@pytest.fixture(scope="session")
def corpus():
    return make_corpus()


@pytest.fixture(scope="session")
def reference(corpus):
    return reference_run(corpus)


@pytest.fixture
def partitions(request) -> int:
    """One partition: the stream sees the ads in the batch path's order (override per test
    with @pytest.mark.parametrize("partitions", [4], indirect=True))."""
    return getattr(request, "param", 1)


@pytest.fixture
def fault_env(stack, topic_prefix, partitions, monkeypatch):
    """The test's topics created with `partitions` partitions; its Redis keys removed after."""
    monkeypatch.setenv("VIGIL_PARTITIONS", str(partitions))
    settings = load_settings()
    ensure_topics(settings)
    yield settings
    delete_redis_prefix(redis_prefix(settings))


@pytest.fixture
def procs(tmp_path):
    started = Processes(tmp_path)
    yield started
    started.stop_all()
