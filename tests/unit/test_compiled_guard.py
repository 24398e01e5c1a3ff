"""The compiled text detectors are used only when complete, current and wanted; otherwise the
.py sources run. Both implementations give the recorded output."""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from detectors.text import compiled
from detectors.text.compiled import COMPILED_MODULES, MANIFEST, compiled_state

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]
ROOT = Path(__file__).resolve().parents[2]


def _package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, group: str = "fakegroup") -> Path:
    """A package directory with sources, stand-in extension files, a manifest and a group module."""
    package = tmp_path / "pkg"
    package.mkdir()
    sources = {}
    for name in COMPILED_MODULES:
        (package / f"{name}.py").write_text(f"X = {name!r}\n")
        (package / f"{name}{SUFFIX}").write_bytes(b"")
        sources[name] = hashlib.sha256((package / f"{name}.py").read_bytes()).hexdigest()
    (package / MANIFEST).write_text(json.dumps({"group": group, "sources": sources}))
    (tmp_path / f"{group}__mypyc.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    return package


def test_no_extension_modules_means_pure_python(tmp_path: Path) -> None:
    assert compiled_state(tmp_path, {}) == (False, "pure Python")


def test_a_complete_current_build_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _package(tmp_path, monkeypatch)
    assert compiled_state(package, {}) == (True, "compiled (mypyc)")


def test_an_edited_source_bypasses_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _package(tmp_path, monkeypatch)
    (package / "phones.py").write_text("X = 'edited'\n")
    use, why = compiled_state(package, {})
    assert not use and "phones.py changed" in why


def test_the_environment_can_ask_for_pure_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _package(tmp_path, monkeypatch)
    assert compiled_state(package, {"VIGIL_PURE_PYTHON": "1"})[0] is False


@pytest.mark.parametrize("damage", ["module", "manifest", "group"])
def test_an_incomplete_build_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    package = _package(tmp_path, monkeypatch, group="othergroup")
    if damage == "module":
        (package / f"numbers{SUFFIX}").unlink()
    elif damage == "manifest":
        (package / MANIFEST).write_text("{not json")
    else:
        (tmp_path / "othergroup__mypyc.py").unlink()
    assert compiled_state(package, {})[0] is False


def test_the_other_implementation_gives_the_recorded_output_too() -> None:
    """Run the golden check in a child process with the implementation this process is not using."""
    if not compiled.TEXT_IMPLEMENTATION.startswith("compiled"):
        pytest.skip(f"only one implementation installed: {compiled.TEXT_IMPLEMENTATION}")
    env = {**os.environ, "VIGIL_PURE_PYTHON": "1"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "data" / "make_text_golden.py"), "--check"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "0 differences (text detectors pure Python" in done.stdout
