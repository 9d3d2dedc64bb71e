"""Smoke test of `passport bench`'s roster section (bench/roster.py) on a small membership."""

from __future__ import annotations

import json
import os

from bench import roster
from bench.runner import _format_extra


def test_roster_section_figures(monkeypatch):
    monkeypatch.setenv("PASSPORT_SECRET_KEY", "kept after the run: a test secret")
    result = roster.run(members=300, sheets=20)
    json.dumps(result)
    figures = result["results"]
    assert list(figures) == ["ed25519_sign_raw", "issue_to_csv", "read_roster", "print_sheets"]
    assert figures["issue_to_csv"]["members"] == 300 and figures["print_sheets"]["cards"] == 20
    assert figures["issue_to_csv"]["x_raw_signing"] > 1.0
    assert figures["issue_to_csv"]["target_x"] == roster.CSV_TARGET_RATIO
    assert os.environ["PASSPORT_SECRET_KEY"] == "kept after the run: a test secret"
    lines = _format_extra("roster", result)
    assert any(line.strip().startswith("print_sheets") for line in lines)
