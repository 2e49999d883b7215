"""The package layout: no import cycles, data flows one way, and the README describes the tree.

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a cycle hidden
in a function is still a cycle a reader has to untangle.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "qtui"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str) -> Iterator[str]:
    """The qtui modules `name` imports, resolved to modules (not names inside them)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


GRAPH = {name: set(_imports(name)) for name in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in GRAPH[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back() -> None:
    assert _cycles() == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    GRAPH["qtui.model"].add("qtui.sanitize")
    GRAPH["qtui.sanitize"].add("qtui.model")
    try:
        assert ["qtui.model", "qtui.sanitize"] in _cycles()
    finally:
        GRAPH["qtui.model"] = set(_imports("qtui.model"))
        GRAPH["qtui.sanitize"] = set(_imports("qtui.sanitize"))


def _in(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


#: Each layer of the plugin system, and the qtui packages it must never import.
#: Data flows bundles -> trust -> runtime -> service -> console.
LAYERS = {
    "qtui.files": ("qtui.plugins", "qtui.console", "qtui.authoring", "qtui.cli", "qtui.backends"),
    "qtui.plugins.bundles": ("qtui.plugins.trust", "qtui.plugins.runtime", "qtui.plugins.service"),
    "qtui.plugins.trust": ("qtui.plugins.runtime", "qtui.plugins.service"),
    "qtui.plugins.runtime": ("qtui.plugins.service",),
    "qtui.plugins": ("qtui.console", "qtui.authoring", "qtui.cli", "qtui.bench"),
    "qtui.authoring": ("qtui.console", "qtui.cli"),
}


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_layer_imports_only_what_is_below_it(layer: str) -> None:
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items() if _in(name, layer)
        for target in targets if _in(target, *LAYERS[layer])
    )
    assert wrong == []


def test_the_console_reaches_plugins_only_through_the_service() -> None:
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items() if _in(name, "qtui.console")
        for target in targets
        if _in(target, "qtui.plugins") and target != "qtui.plugins.service"
    )
    assert wrong == []


def test_every_subpackage_says_what_it_owns_and_may_import() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        name = _module_name(init)
        if name in ("qtui", "qtui.console", "qtui.console.screens", "qtui.bench", "qtui.backends",
                    "qtui.sqlite_queue"):
            continue
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "Owns:" in doc and "import" in doc, f"{init}: say what it owns and what it may import"


def _readme_layout() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("## Layout", 1)[1].split("\n## ", 1)[0]


def test_the_readme_layout_names_only_paths_that_exist() -> None:
    named = re.findall(r"`([\w./-]+/?)`", _readme_layout())
    paths = [n for n in named if "/" in n or n.endswith(".py")]
    assert paths, "the Layout section names no paths"
    tree = set()
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and d not in ("build", "__pycache__")]
        here = Path(folder).relative_to(ROOT)
        tree.update((here / name).as_posix() for name in [*subfolders, *files])
    # A name may be given relative to the folder the text is about (`screens/` of `console/`).
    missing = [path for path in paths
               if not any(t == path.rstrip("/") or t.endswith("/" + path.rstrip("/")) for t in tree)]
    assert missing == []


def test_the_readme_layout_names_every_subpackage() -> None:
    layout = _readme_layout()
    packages = sorted(
        str(p.parent.relative_to(ROOT)) for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE
    )
    unnamed = [p for p in packages if f"`{p}/`" not in layout and f"`{p.rpartition('/')[2]}/`" not in layout]
    assert unnamed == []
