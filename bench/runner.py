"""Run every benchmark row in one process on the same inputs; format the table."""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import pkgutil
import platform
import time
from pathlib import Path

import numpy as np

import bench
from bench.inputs import BIG_N, Inputs
from bench.registry import REGISTRY, TASKS, run_cases

log = logging.getLogger(__name__)

# Modules of this package that are machinery, not rows or extra sections.
_OWN = {"registry", "runner", "inputs", "accuracy", "startup"}


def _bench_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(bench.__file__).parent)]))


def load_cases() -> None:
    """Import the row modules: ``cases_*`` (engine, peers, and any other area's)."""
    for name in _bench_modules():
        if name.startswith("cases_"):
            importlib.import_module(f"bench.{name}")


def _extras(quick: bool) -> dict:
    """Sections from other modules of ``bench/`` that expose ``run()`` (e.g. cards)."""
    out = {}
    for name in _bench_modules():
        if name in _OWN or name.startswith("cases_"):
            continue
        try:
            module = importlib.import_module(f"bench.{name}")
        except ImportError as exc:
            out[name] = {"skipped": f"cannot import bench.{name}: {exc}"}
            continue
        run = getattr(module, "run", None)
        if not callable(run):
            continue
        kwargs = {"repeat": 50} if quick and "repeat" in inspect.signature(run).parameters else {}
        try:
            out[name] = run(**kwargs)
        except Exception as exc:  # noqa: BLE001 - another area's section must not sink the run
            log.exception("bench/%s.py run() failed", name)
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def machine() -> dict:
    import numba

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
    }


def run(*, quick: bool = False, startup: bool = True, accuracy: bool = True,
        extras: bool = True, big_n: int = BIG_N) -> dict:
    """Every figure of ``passport bench`` as one JSON-able dict."""
    from engine import warm_up

    load_cases()
    started = time.perf_counter()
    inputs = Inputs(quick=quick, big_n=big_n)
    warm_up_s = warm_up()
    results, skipped = run_cases(inputs, quick=quick)
    out = {
        "quick": quick,
        "machine": machine(),
        "big_n": big_n,
        "query": inputs.query,
        "warm_up_s": warm_up_s,
        "results": results,
        "skipped": skipped,
        "builds": inputs.builds,
        "accuracy": None,
        "startup": None,
        "extras": None,
    }
    if accuracy:
        from bench.accuracy import accuracy_table

        rows, acc_skipped = accuracy_table(inputs.pairs)
        out["accuracy"] = rows
        out["skipped"] += [{"task": "accuracy", "name": s["method"], "reason": s["reason"]}
                           for s in acc_skipped]
    if startup:
        from bench.startup import cold_and_warm

        out["startup"] = cold_and_warm()
    if extras:
        out["extras"] = _extras(quick)
    out["seconds"] = time.perf_counter() - started
    return out


def _fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _format_extra(name: str, section: dict) -> list[str]:
    """Another area's section: its ``results`` as one line per case, else the raw dict."""
    results = section.get("results") if isinstance(section, dict) else None
    if not isinstance(results, dict):
        return [f"bench/{name}.py: {section}", ""]
    lines = [f"bench/{name}.py (its own timer; units in each figure's name)"]
    for case, figures in results.items():
        shown = ", ".join(f"{k} {v}" for k, v in figures.items()) if isinstance(figures, dict) \
            else str(figures)
        lines.append(f"  {case:32} {shown}")
    return lines + [""]


def format_text(result: dict) -> str:
    """The human table: per task, rows by median, with accuracy columns."""
    acc = {row["method"]: row for row in result.get("accuracy") or []}
    lines = [f"passport bench{' --quick' if result['quick'] else ''}: "
             f"{result['machine']['cpus']} CPUs, Python {result['machine']['python']}, "
             f"numba {result['machine']['numba']}, numpy {result['machine']['numpy']}", ""]
    header = (f"{'implementation':44} {'min':>9} {'median':>9} {'x fastest':>9} "
              f"{'max err mi':>10} {'wrong':>14}  note")
    tasks = list(TASKS) + [t for t in dict.fromkeys(r["task"] for r in result["results"])
                           if t not in TASKS]
    for task in tasks:
        rows = sorted((r for r in result["results"] if r["task"] == task),
                      key=lambda r: r["median_s"])
        if not rows:
            continue
        lines += [task, header]
        for r in rows:
            a = acc.get(r["method"])
            err = "" if not a or a["max_error_miles"] is None else f"{a['max_error_miles']:.2g}"
            wrong = "" if not a else f"{a['wrong_decisions']}/{a['pairs']}"
            lines.append(f"  {r['name'][:42]:42} {_fmt_time(r['min_s']):>9} "
                         f"{_fmt_time(r['median_s']):>9} {r['ratio']:>9.1f} {err:>10} "
                         f"{wrong:>14}  {r['note']}")
        lines.append("")
    if result["builds"]:
        lines.append("one-off builds (not in the figures above)")
        lines += [f"  {b['name']}: {_fmt_time(b['seconds'])}" for b in result["builds"]]
        lines.append("")
    if result.get("accuracy"):
        lines.append("accuracy on pairs whose true distance is 85-95 miles (90-mile rule)")
        for a in result["accuracy"]:
            err = "n/a" if a["max_error_miles"] is None else f"{a['max_error_miles']:.3g} mi"
            lines.append(f"  {a['method']:40} max error {err:>12}  wrong "
                         f"{a['wrong_decisions']:>6} of {a['pairs']} ({a['wrong_percent']:.2f} %)")
        lines.append("")
    if result.get("startup"):
        lines.append("fresh process to first decision (import + table + decision)")
        for kind in ("cold", "warm"):
            s = result["startup"][kind]
            lines.append(f"  {kind} numba cache: {s['to_first_decision_s']:.2f} s "
                         f"(import {s['import_s']:.2f} s; "
                         f"whole process {s['process_wall_s']:.2f} s)")
        lines.append("")
    if result["skipped"]:
        lines.append("skipped")
        lines += [f"  {s['task']}: {s['name']}: {s['reason']}" for s in result["skipped"]]
        lines.append("")
    for name, section in (result.get("extras") or {}).items():
        lines += _format_extra(name, section)
    lines.append(f"warm_up() in this process: {result['warm_up_s']:.2f} s; "
                 f"whole run {result['seconds']:.0f} s")
    return "\n".join(lines)


__all__ = ["REGISTRY", "format_text", "load_cases", "run"]
