"""Build hook: compile the text detectors' hot path with mypyc, falling back to pure Python.

Everything else about the package is in pyproject.toml. The text package (`detectors/text/`,
the modules in its `compiled.COMPILED_MODULES`: normalisation, the word scan, the extractors,
indicators) is the per-ad hot path of text enrichment; compiled it runs about 1.4 times faster,
with the same results (the golden test in tests/unit/test_text_golden.py runs against whichever
implementation is installed).

The build never fails because of this: without mypyc, without a C compiler, or with
VIGIL_PURE_PYTHON=1 set, the package installs as pure Python. `detectors/text/compiled.py` uses
the compiled modules only while their sources are the ones recorded here at build time (the
manifest), and otherwise imports the .py files.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
TEXT = ROOT / "detectors" / "text"
GROUP = "vigil_text"
MANIFEST = TEXT / "_compiled_sources.json"


def _compiled_modules() -> tuple[str, ...]:
    """detectors/text/compiled.py's COMPILED_MODULES, read without importing the package."""
    import ast

    tree = ast.parse((TEXT / "compiled.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "COMPILED_MODULES":
            return tuple(ast.literal_eval(node.value))
    raise RuntimeError("detectors/text/compiled.py defines no COMPILED_MODULES")


COMPILED = _compiled_modules()


def _source_hashes() -> dict[str, str]:
    return {
        name: hashlib.sha256((TEXT / f"{name}.py").read_bytes()).hexdigest()
        for name in COMPILED
    }


def ext_modules() -> list:
    if os.environ.get("VIGIL_PURE_PYTHON"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    try:
        extensions = mypycify(
            ["--ignore-missing-imports", *(f"detectors/text/{name}.py" for name in COMPILED)],
            opt_level="3",
            group_name=GROUP,
        )
    except (Exception, SystemExit) as exc:  # a type error stops mypyc: install pure Python
        print(f"vigil: text detectors not compiled ({exc!r}); installing pure Python", file=sys.stderr)
        return []
    for extension in extensions:
        extension.optional = True  # a missing compiler is a warning, not a failed install
    MANIFEST.write_text(json.dumps({"group": GROUP, "sources": _source_hashes()}, indent=1) + "\n")
    return extensions


setup(ext_modules=ext_modules())
