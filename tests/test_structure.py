"""Code that reads in one sitting: no function in ``passport/`` or ``kiosk/`` is longer than
``MAX_FUNCTION_LINES``, counted from its ``def`` line to the end of its body (docstring and
comments included; decorators not). Walks the sources with ``ast``; nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("passport", "kiosk")
MAX_FUNCTION_LINES = 60


def long_functions(source: str, where: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Every function (methods and nested ones too) in ``source`` longer than ``limit``
    lines, one line each: ``where:line name (N lines)``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                found.append(f"{where}:{node.lineno} {node.name} ({lines} lines)")
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_is_longer_than_the_limit(package):
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        found += long_functions(path.read_text(encoding="utf-8"),
                                str(path.relative_to(ROOT)))
    assert found == [], f"split these into named steps (max {MAX_FUNCTION_LINES} lines)"


def test_the_walk_counts_from_def_to_the_end_of_the_body():
    source = (
        "@decorator\n"
        "def f():\n"           # line 2: f is lines 2-6
        "    '''Doc.'''\n"
        "    a = 1\n"
        "    # a comment\n"
        "    return a\n"
        "class C:\n"
        "    def m(self):\n"   # line 8: m is lines 8-11
        "        a = 1\n"
        "        b = 2\n"
        "        return a + b\n"
    )
    assert long_functions(source, "x.py", limit=5) == []
    assert long_functions(source, "x.py", limit=4) == ["x.py:2 f (5 lines)"]
    assert long_functions(source, "x.py", limit=3) == ["x.py:2 f (5 lines)",
                                                       "x.py:8 m (4 lines)"]
