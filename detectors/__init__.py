"""The functional core: pure detection logic, no Kafka, no Redis, no network.

The text hot path (COMPILED_MODULES) may have been compiled with mypyc when the package was
installed (see setup.py). The compiled modules are used only while every one of them is present
and their sources are byte for byte those recorded at build time, and never when
VIGIL_PURE_PYTHON is set; otherwise the .py files are imported, so an edited source always runs
as written (`make compile` builds it again). TEXT_IMPLEMENTATION says which one is running.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

COMPILED_MODULES = ("wordscan", "text", "phones", "entities", "gazetteer", "indicators")
MANIFEST = "_compiled_sources.json"
_HERE = Path(__file__).resolve().parent


def compiled_state(directory: Path, environ: Mapping[str, str]) -> tuple[bool, str]:
    """(use the compiled modules?, why) for the package in `directory`."""
    present = [
        name
        for name in COMPILED_MODULES
        if any((directory / f"{name}{suffix}").exists() for suffix in importlib.machinery.EXTENSION_SUFFIXES)
    ]
    if not present:
        return False, "pure Python"
    if environ.get("VIGIL_PURE_PYTHON"):
        return False, "pure Python (VIGIL_PURE_PYTHON is set)"
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        recorded, group = manifest["sources"], manifest["group"]
    except (OSError, ValueError, KeyError, TypeError):
        return False, "pure Python (compiled modules without their build manifest)"
    if len(present) < len(COMPILED_MODULES) or importlib.util.find_spec(f"{group}__mypyc") is None:
        return False, "pure Python (the compiled build is incomplete)"
    for name in COMPILED_MODULES:
        digest = hashlib.sha256((directory / f"{name}.py").read_bytes()).hexdigest()
        if recorded.get(name) != digest:
            return False, f"pure Python (detectors/{name}.py changed since it was compiled: make compile)"
    return True, "compiled (mypyc)"


class _SourcesFirst(importlib.abc.MetaPathFinder):
    """Imports the .py file of a compiled module, so a stale or unwanted build is bypassed."""

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        package, _, name = fullname.rpartition(".")
        if package == __name__ and name in COMPILED_MODULES:
            return importlib.util.spec_from_file_location(fullname, _HERE / f"{name}.py")
        return None


_use_compiled, TEXT_IMPLEMENTATION = compiled_state(_HERE, os.environ)
if not _use_compiled and TEXT_IMPLEMENTATION != "pure Python":
    sys.meta_path.insert(0, _SourcesFirst())
