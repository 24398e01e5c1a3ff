"""Which implementation of the text package runs: the mypyc build or the .py sources.

`make install` compiles the modules in COMPILED_MODULES with mypyc (setup.py, which documents
the build; without a C compiler the install is pure Python). A build is used only while every
compiled module is present and its source is byte for byte the one recorded at build time, and
never when VIGIL_PURE_PYTHON is set; otherwise `use_sources_if_stale()`, called by the package's
`__init__` before any text module is imported, puts a finder in front that imports the .py
files, so an edited source always runs as written (`make compile` builds it again).
TEXT_IMPLEMENTATION says which one is running.
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

COMPILED_MODULES = (
    "normalise", "wordlists", "lexicon", "concepts", "automata", "numbers", "adtext", "words",
    "phones", "contacts", "ages", "prices", "places", "entities", "placeholders", "grammar",
    "indicators",
)
"""The text package's modules, bottom layer first; setup.py compiles exactly these."""
PACKAGE = "detectors.text"
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
            return False, f"pure Python (detectors/text/{name}.py changed since it was compiled: make compile)"
    return True, "compiled (mypyc)"


class _SourcesFirst(importlib.abc.MetaPathFinder):
    """Imports the .py file of a compiled module, so a stale or unwanted build is bypassed."""

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        package, _, name = fullname.rpartition(".")
        if package == PACKAGE and name in COMPILED_MODULES:
            return importlib.util.spec_from_file_location(fullname, _HERE / f"{name}.py")
        return None


_use_compiled, TEXT_IMPLEMENTATION = compiled_state(_HERE, os.environ)


def use_sources_if_stale() -> None:
    """Import the .py sources instead of a build that is stale, incomplete or unwanted."""
    if not _use_compiled and TEXT_IMPLEMENTATION != "pure Python" and not any(
        isinstance(finder, _SourcesFirst) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _SourcesFirst())
