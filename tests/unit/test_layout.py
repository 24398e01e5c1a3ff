"""The layout holds: imports run downward only, the core stays pure, private names stay private,
and the documents that describe the tree name files that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("detectors", "streams", "schemas")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in (REPO / package).rglob("*.py")}


def imports_of(path: Path, name: str, modules: dict[str, Path]) -> list[tuple[str, list[str], int]]:
    """(imported project module, names taken from it, line) for every import in the file, at
    module level or inside a function (a late import still ties the two modules together)."""
    found = []
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [alias.name for alias in node.names]
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in modules]
            if submodules:
                found += [(m, [], node.lineno) for m in submodules]
            else:
                found.append((base, names, node.lineno))
    return [(m, names, line) for m, names, line in found if m.split(".")[0] in PACKAGES]


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, including the packages a dotted import runs."""
    modules = project_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target, _, _ in imports_of(path, name, modules):
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in modules and prefix != name and not name.startswith(prefix + "."):
                    graph[name].add(prefix)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_the_projects_modules() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (each line one circle of modules):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_no_import_cycle_among_the_rooms() -> None:
    """Folders (detectors/text, streams/worker ...) import each other downward only too."""

    def room(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:2]) if len(parts) > 2 else module

    rooms: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        rooms.setdefault(room(module), set())
        for target in targets:
            if room(target) != room(module):
                rooms[room(module)].add(room(target))
                rooms.setdefault(room(target), set())
    found = cycles(rooms)
    assert not found, "rooms importing each other in a circle:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_core_imports_no_shell_and_no_io_client() -> None:
    modules = project_modules()
    io_clients = {"kafka", "aiokafka", "confluent_kafka", "redis", "httpx", "aiohttp", "requests", "socket"}
    offences = []
    for name, path in modules.items():
        if not name.startswith("detectors"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offences += [f"{name}:{node.lineno} imports {t}" for t in targets
                         if t.split(".")[0] in io_clients or t.split(".")[0] == "streams"]
    assert not offences, "\n".join(offences)


def test_no_private_name_crosses_a_module_boundary() -> None:
    modules = project_modules()
    offences = []
    for name, path in modules.items():
        for target, names, line in imports_of(path, name, modules):
            offences += [f"{name}:{line} takes {n} from {target}" for n in names
                         if n.startswith("_") and not n.startswith("__")]
    assert not offences, "\n".join(offences)


def test_the_text_package_is_a_line_each_module_importing_only_those_before_it() -> None:
    from detectors.text.compiled import COMPILED_MODULES

    graph = import_graph()
    order = {f"detectors.text.{m}": i for i, m in enumerate(COMPILED_MODULES)}
    upward = [f"{m} imports {t}" for m, rank in order.items() for t in graph[m]
              if t in order and order[t] >= rank]
    assert not upward, "\n".join(upward)


DOCUMENTS = ("docs/architecture.md", "README.md")
PATH_IN_TEXT = re.compile(r"`((?:detectors|streams|schemas|deploy|tests|docs)/[\w./-]*)`")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_file_the_documents_name_exists(document: str) -> None:
    text = (REPO / document).read_text(encoding="utf-8")
    named = sorted(set(PATH_IN_TEXT.findall(text)))
    assert named, f"{document} names no file"
    missing = [p for p in named if not (REPO / p.rstrip("/")).exists()]
    assert not missing, f"{document} names files that do not exist: {missing}"


def test_the_readme_layout_table_lists_every_room() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    rooms = [f"{package}/{p.name}/" for package in ("detectors", "streams")
             for p in sorted((REPO / package).iterdir()) if (p / "__init__.py").exists()]
    missing = [room for room in rooms if f"`{room}`" not in text]
    assert not missing, f"README's layout table does not name {missing}"
