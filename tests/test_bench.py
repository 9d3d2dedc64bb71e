"""Smoke test of the benchmark: quick mode, tiny inputs, the output's structure."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bench import register
from bench.registry import REGISTRY, TASKS
from bench.runner import format_text, run
from passport.cli import main


def test_quick_run_structure_and_a_registered_row():
    @register("smoke task", "a registered row", note="from a test")
    def _row(inputs):
        return len, (inputs.ids_400,)

    try:
        result = run(quick=True, startup=False, extras=False, big_n=20_000)
    finally:
        REGISTRY.cases = [c for c in REGISTRY.cases if c.task != "smoke task"]
    json.dumps(result)  # JSON-able as written by --out / --json
    assert {r["task"] for r in result["results"]} >= set(TASKS) | {"smoke task"}
    for row in result["results"]:
        assert 0 < row["min_s"] <= row["median_s"]
        assert row["ratio"] >= 1.0
    for task in TASKS:
        assert min(r["ratio"] for r in result["results"] if r["task"] == task) == 1.0
    engine_rows = {(r["task"], r["name"]) for r in result["results"]}
    assert ("single pair", "engine.geodesic_miles") in engine_rows
    accuracy = {a["method"]: a for a in result["accuracy"]}
    exact = accuracy["engine exact (Vincenty in band)"]
    assert exact["wrong_decisions"] == 0 and exact["max_error_miles"] < 1e-6
    assert accuracy["sphere R1 (numpy / engine haversine)"]["wrong_decisions"] > 0
    text = format_text(result)
    assert "one vs 400" in text and "a registered row" in text and "max error" in text


def test_cli_help_names_the_flags():
    out = CliRunner().invoke(main, ["bench", "--help"])
    assert out.exit_code == 0
    for flag in ("--quick", "--json", "--out", "--no-startup"):
        assert flag in out.output
