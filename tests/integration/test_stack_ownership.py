"""Commands start only the services they need and stop what they started; a port held by
another stack is named with its checkout and the command that stops it. Runs real Redis on
ports of its own (VIGIL_STACK_DIR in a temporary directory), beside the suite's stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.config import REPO_ROOT, load_settings
from streams.stack.launcher import _port_open, read_owner, start_redis, stop_stack

# beside the suite's stack and the secure tests' (those take base + 400: 22479, 22492, 22493 here)
PORTS = {"VIGIL_REDIS_PORT": "22452", "VIGIL_KAFKA_PORT": "22450", "VIGIL_KAFKA_CONTROLLER_PORT": "22451"}


def vigil(args: list[str], stack_dir: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "KAFKA_BOOTSTRAP")}
    env.update(PORTS, VIGIL_STACK_DIR=str(stack_dir), VIGIL_TOPIC_PREFIX="own.", **extra)
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def stack_dir(tmp_path, monkeypatch):
    for name, value in PORTS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("VIGIL_STACK_DIR", str(tmp_path / "stack"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    yield tmp_path / "stack"
    stop_stack(load_settings())


def test_bank_starts_only_redis_and_stops_it_again(stack_dir, tmp_path):
    from PIL import Image
    from skimage import data

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(data.chelsea()).save(photos / "cat.png")
    added = vigil(["bank", "add", "flagged", str(photos)], stack_dir)
    assert added.returncode == 0, added.stderr
    assert "1 entries added" in added.stdout
    assert not _port_open(22452), "Redis started by `vigil bank` still runs"
    assert not _port_open(22450) and not (stack_dir / "kafka").exists(), "a bank needs no broker"
    # the entry is kept (AOF): the next command starts Redis again, finds it, stops Redis again
    listed = vigil(["bank", "list"], stack_dir)
    assert "flagged\tcat" in listed.stdout and not _port_open(22452)


def test_a_stack_that_was_up_stays_up_and_records_its_owner(stack_dir):
    settings = load_settings()
    assert start_redis(settings) is True
    owner = read_owner(stack_dir / "redis")
    assert owner["checkout"] == str(REPO_ROOT) and owner["port"] == 22452 and owner["service"] == "redis"
    assert vigil(["bank", "list"], stack_dir).returncode == 0
    assert _port_open(22452), "a command stopped a Redis it had not started"
    status = vigil(["stack", "status"], stack_dir).stdout
    assert f"in {REPO_ROOT}" in status and "redis redis://127.0.0.1:22452/0 healthy (pid" in status
    # REDIS_URL set: nothing is started, nothing stopped
    assert vigil(["bank", "list"], stack_dir, REDIS_URL="redis://127.0.0.1:22452/0").returncode == 0
    assert _port_open(22452)


def test_a_port_held_by_another_stack_names_its_checkout_and_how_to_stop_it(stack_dir, tmp_path):
    assert start_redis(load_settings())
    other = tmp_path / "other-stack"
    result = vigil(["bank", "list"], other)
    assert result.returncode == 2
    message = result.stderr
    assert f"port 22452 is held by the vigil stack of the checkout {REPO_ROOT} (redis, pid" in message
    assert f"stop it with: cd {REPO_ROOT} && VIGIL_STACK_DIR={stack_dir} .venv/bin/vigil stack down" in message
    assert "Traceback" not in message
