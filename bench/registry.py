"""The registry of benchmark rows and the timer that runs them.

A row is a *factory*: it gets the shared :class:`bench.inputs.Inputs` and returns what to
time, so set-up (building a table, a tree, importing a peer) stays out of the figures (see
``bench/cases_rules.py`` for rows registered with ``@register``).

Return ``(fn, args)`` to time ``fn(*args)`` exactly as a caller would write it, or a
zero-argument callable. Raise :class:`Skip` (e.g. a peer package is not installed) to
list the row as skipped with the reason. Rows with the same task are compared with each
other (ratio to the fastest). Modules named ``bench/cases_*.py`` are imported by
``passport bench`` so their ``@register`` rows appear; a module in ``bench/`` with a
``run(repeat=...)`` function (like ``bench/cards.py``) is reported as an extra section.
"""

from __future__ import annotations

import contextlib
import gc
import os
import statistics
import time
import timeit
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


class Skip(Exception):
    """A benchmark row cannot run here (say why in the message)."""


@dataclass(frozen=True)
class Case:
    task: str
    name: str
    factory: Callable[[Any], Any]
    note: str = ""
    method: str = ""  # key into the accuracy table (same formula => same accuracy)
    slow: bool = False  # a single call takes seconds: time it once or twice
    quick: bool = True  # run in --quick mode too


@dataclass
class Registry:
    cases: list[Case] = field(default_factory=list)

    def add(self, case: Case) -> None:
        self.cases = [c for c in self.cases if (c.task, c.name) != (case.task, case.name)]
        self.cases.append(case)


REGISTRY = Registry()


def register(task: str, name: str, *, note: str = "", method: str = "", slow: bool = False,
             quick: bool = True):
    """Decorator: add a row ``name`` to the benchmark table under ``task``."""

    def deco(factory: Callable[[Any], Any]) -> Callable[[Any], Any]:
        REGISTRY.add(Case(task, name, factory, note, method, slow, quick))
        return factory

    return deco


def _timer(target: Any) -> timeit.Timer:
    if isinstance(target, tuple):
        fn, args = target
        names = [f"a{k}" for k in range(len(args))]
        namespace = dict(zip(names, args, strict=True), fn=fn)
        return timeit.Timer(f"fn({', '.join(names)})", globals=namespace)
    return timeit.Timer("fn()", globals={"fn": target})


def time_target(target: Any, *, quick: bool, slow: bool = False) -> dict:
    """Seconds per call: min and median over repeats (timeit's loop, GC off)."""
    timer = _timer(target)
    first_start = time.perf_counter()
    timer.timeit(1)  # the first call may compile or fill caches; not counted
    first_s = time.perf_counter() - first_start
    repeats = 3 if quick else 7
    if slow or first_s > 0.2:
        repeats = 1 if quick else 3
        number = 1
    else:
        budget_s = 0.002 if quick else 0.02
        number, took = 1, 0.0
        while number < 1 << 22:
            took = timer.timeit(number)
            if took >= budget_s:
                break
            number *= 10 if took < budget_s / 10 else 2
    gc.collect()
    per_call = [t / number for t in timer.repeat(repeat=repeats, number=number)]
    return {
        "min_s": min(per_call),
        "median_s": statistics.median(per_call),
        "calls_per_repeat": number,
        "repeats": repeats,
    }


def sample_us(call: Callable[[], object], repeat: int) -> dict:
    """Per-call wall time in microseconds, median and 99th percentile of ``repeat`` calls.

    For sections whose calls have side effects or vary (card verification, HTTP requests),
    where timeit's batched loop of ``time_target`` would hide the spread.
    """
    for _ in range(min(200, repeat)):  # warm caches (key parsing, SQLite statement cache)
        call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1000.0)
    samples.sort()
    return {
        "median_us": round(statistics.median(samples), 1),
        "p99_us": round(samples[int(len(samples) * 0.99) - 1], 1),
        "n": repeat,
    }


def run_cases(inputs: Any, *, quick: bool) -> tuple[list[dict], list[dict]]:
    """Time every registered row; returns (results, skipped)."""
    results: list[dict] = []
    skipped: list[dict] = []
    for case in REGISTRY.cases:
        if quick and not case.quick:
            skipped.append({"task": case.task, "name": case.name, "reason": "not run in --quick"})
            continue
        try:
            target = case.factory(inputs)
        except Skip as exc:
            skipped.append({"task": case.task, "name": case.name, "reason": str(exc)})
            continue
        timing = time_target(target, quick=quick, slow=case.slow)
        results.append({"task": case.task, "name": case.name, "note": case.note,
                        "method": case.method, **timing})
    fastest: dict[str, float] = {}
    for row in results:
        fastest[row["task"]] = min(fastest.get(row["task"], float("inf")), row["median_s"])
    for row in results:
        row["ratio"] = row["median_s"] / fastest[row["task"]]
    return results, skipped


# The tasks of the table; other areas may add their own task names.
TASK_PAIR = "single pair"
TASK_400 = "one vs 400 (mask, 90 mi)"
TASK_BIG = "one vs 1,000,000 (mask, 90 mi)"
TASK_ALL = "all pairs 400 (matrix, 90 mi)"
TASKS = (TASK_PAIR, TASK_400, TASK_BIG, TASK_ALL)

# Accuracy families: rows computing the same formula share one accuracy figure.
M_ENGINE = "engine exact (Vincenty in band)"
M_SPHERE = "sphere R1 (numpy / engine haversine)"
M_HAV_PKG = "haversine package"
M_GREAT_CIRCLE = "geopy great_circle"
M_GEODESIC = "geopy geodesic"
M_BALLTREE = "BallTree haversine"
M_PYPROJ = "pyproj Geod.inv"


@contextlib.contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Environment variables set (None: unset) while a section runs, then put back."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
