"""The layers point one way (DESIGN's layout): kiosk -> passport -> engine, bench beside.

Walks every module's imports with ``ast`` (nothing is imported to check it):
- ``passport/`` never imports Flask, the kiosk or the benchmarks;
- ``engine/`` imports only the standard library, numpy and numba, and geographiclib only
  lazily (inside a function: the exact fallback, loaded when first needed);
- ``kiosk/`` never imports the benchmarks.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "passport": {"flask", "werkzeug", "kiosk", "bench"},
    "kiosk": {"bench"},
}
ENGINE_ALLOWED = {"numpy", "numba", "engine"} | set(sys.stdlib_module_names)
ENGINE_LAZY_ONLY = {"geographiclib"}


def imports(source: str, package: str) -> list[tuple[str, int, bool]]:
    """(top-level module, line, at module level?) for each import in ``source``; relative
    imports count as ``package``."""
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((a.name.split(".")[0], child.lineno, top) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                name = package if child.level else (child.module or "").split(".")[0]
                found.append((name, child.lineno, top))
            inner = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, top and not inner)

    visit(ast.parse(source), True)
    return found


def violations(package: str, source: str, where: str) -> list[str]:
    """What in ``source`` (a module of ``package``) breaks the layering, one line each."""
    problems = []
    for name, line, top in imports(source, package):
        if name in FORBIDDEN.get(package, ()):
            problems.append(f"{where}:{line} imports {name}")
        if package == "engine" and name not in ENGINE_ALLOWED:
            if name not in ENGINE_LAZY_ONLY:
                problems.append(f"{where}:{line} imports {name} (engine: stdlib, numpy, numba)")
            elif top:
                problems.append(f"{where}:{line} imports {name} at module level (lazily only)")
    return problems


@pytest.mark.parametrize("package", ["passport", "engine", "kiosk"])
def test_package_imports_point_one_way(package):
    problems = []
    for path in sorted((ROOT / package).rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        problems += violations(package, source, str(path.relative_to(ROOT)))
    assert problems == []


@pytest.mark.parametrize(("package", "source", "expected"), [
    ("passport", "import flask\n", "imports flask"),
    ("passport", "from kiosk.db import get_db\n", "imports kiosk"),
    ("passport", "def f():\n    from bench import runner\n", "imports bench"),
    ("kiosk", "import bench.api\n", "imports bench"),
    ("engine", "import scipy\n", "engine: stdlib, numpy, numba"),
    ("engine", "from passport import rules\n", "engine: stdlib, numpy, numba"),
    ("engine", "import geographiclib\n", "at module level"),
])
def test_the_walk_catches_each_kind_of_violation(package, source, expected):
    found = violations(package, source, "x.py")
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(("package", "source"), [
    ("engine", "import math\nimport numpy as np\nfrom numba import njit\n"),
    ("engine", "def exact():\n    from geographiclib.geodesic import Geodesic\n"),
    ("passport", "import jinja2\nfrom passport import store\nfrom . import rules\n"),
    ("kiosk", "from flask import Flask\nfrom passport import rules\n"),
])
def test_allowed_imports_pass(package, source):
    assert violations(package, source, "x.py") == []


def test_the_domain_command_line_names_no_kiosk_or_bench_command_module():
    # serve/admin/token and bench reach `passport` through entry points, not imports.
    from passport.cli import contributed_commands

    targets = {name: ep.value for name, ep in contributed_commands().items()}
    assert targets == {"serve": "kiosk.cli:serve", "admin": "kiosk.cli:admin",
                       "token": "kiosk.cli:token", "bench": "bench.cli:bench_command",
                       "hub": "kiosk.hubcli:hub"}
