"""constraints.txt pins what pyproject.toml asks for; `make audit` (.ci/audit.py) fails on a
finding and not on an unreachable vulnerability service."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement).group()).lower()


def test_every_runtime_and_test_dependency_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in [*project["dependencies"],
                                 *project["optional-dependencies"]["test"]]}
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[_name(name)] = version
    assert not wanted - pins.keys(), "pin these in constraints.txt (pip freeze)"
    assert "passport-checkin" not in pins


@pytest.fixture
def audit_script():
    spec = importlib.util.spec_from_file_location("ci_audit", ROOT / ".ci" / "audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(*dependencies):
    return {"dependencies": list(dependencies), "fixes": []}


@pytest.mark.parametrize(("outcome", "code", "says"), [
    ((1, _report({"name": "flask", "version": "2.0.0", "vulns": [
        {"id": "PYSEC-0000-1", "fix_versions": ["2.2.5"]}]}), ""), 1,
     "flask 2.0.0: PYSEC-0000-1 (fixed in 2.2.5)"),
    ((0, _report({"name": "flask", "version": "3.1.0", "vulns": []}), ""), 0,
     "1 pinned packages checked, no known vulnerabilities"),
    ((0, _report({"name": "flask", "version": "3.1.0", "skip_reason": "not found"}), ""), 0,
     "answered for none of the 1 pinned packages; nothing was checked"),
    ((1, None, "requests.exceptions.ConnectionError: Max retries exceeded"), 0,
     "could not be reached; nothing was checked"),
    ((1, None, "error: constraints.txt: invalid requirement"), 1, ""),
])
def test_audit_outcomes(audit_script, monkeypatch, capsys, outcome, code, says):
    monkeypatch.setattr(audit_script, "run_audit", lambda service: outcome)
    monkeypatch.setattr("sys.argv", ["audit.py"])
    assert audit_script.main() == code
    assert says in capsys.readouterr().out
