"""The package's layers: a lower layer never imports a higher one, and no module imports
another module's private names.

The order is written once, in :data:`LAYERS`; a module's layer is its folder below
``geoplan/`` (the top-level modules are the core, except the two entry points).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "geoplan"

LAYERS = ("core", "readers", "analysis", "plans", "rendering", "workflows", "app", "entry")
"""Lowest first: a module may import its own layer and the layers before it."""

ENTRY = {"geoplan", "geoplan.api", "geoplan.cli", "geoplan.__main__"}
"""``import geoplan`` (the front door and its verbs) and the ``geoplan`` command: above
everything."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    if module in ENTRY:
        return "entry"
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS):
        return parts[1]
    return "core"


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """``(line, module, names)`` of every geoplan import in ``path``, function-level ones too;
    ``from . import x`` gives the module ``<package>.x``."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.startswith("geoplan")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("geoplan"):
                continue
            names = [a.name for a in node.names]
            for name in names:
                sub = PACKAGE.parent.joinpath(*target.split("."), name)
                if sub.with_suffix(".py").exists() or (sub / "__init__.py").exists():
                    found.append((node.lineno, f"{target}.{name}", []))
                else:
                    found.append((node.lineno, target, [name]))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    assert {_layer(_module_name(p)) for p in MODULES} == set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path):
    module = _module_name(path)
    rank = LAYERS.index(_layer(module))
    upward = [
        f"line {line}: {target} ({_layer(target)})"
        for line, target, _ in _imports(path)
        if LAYERS.index(_layer(target)) > rank
    ]
    assert not upward, f"{module} ({_layer(module)}) imports a higher layer: {upward}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_another_modules_private_names(path):
    """A name with a leading underscore belongs to its module; what another module needs is
    public (and in ``__all__``). The package's private modules (``_io``, ``_cache`` …) are
    modules, not names: importing them is allowed."""
    private = [
        f"line {line}: {target}.{name}"
        for line, target, names in _imports(path)
        for name in names
        if name.startswith("_") and name != "__version__"
    ]
    assert not private, f"{_module_name(path)} imports private names: {private}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "analysis").glob("*.py")), ids=lambda p: p.name)
def test_analysis_writes_no_file_and_draws_nothing(path):
    """analysis: tables and arrays in, tables out. Writing result folders is the workflows'
    (geoplan.results, geoplan._io), drawing the renderers' (folium, matplotlib)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {target for _, target, _ in _imports(path)}
    banned = {"folium", "matplotlib", "geoplan.results", "geoplan._io", "results", "_io"}
    found = sorted(
        m for m in imported if m in banned or m.split(".")[0] in {"folium", "matplotlib"}
    )
    assert not found, f"{path.name} imports {found}"
