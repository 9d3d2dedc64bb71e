"""Cold and warm start: a fresh process's time to its first decision, numba cache empty/full.

Each run is a new interpreter with ``NUMBA_CACHE_DIR`` pointing at one temporary folder:
the first run compiles every kernel it uses and fills the cache, the second loads them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from bench.inputs import SHIPPED_CSV

_CHILD = r"""
import csv, json, sys, time
t0 = time.perf_counter()
import engine
t1 = time.perf_counter()
with open(sys.argv[1], newline="", encoding="utf-8") as fh:
    rows = list(csv.DictReader(fh))
table = engine.InstitutionTable.from_records(rows)
home, visit = table.ids[0], table.ids[1]
admit = table.beyond(home, visit) and not table.within(40.0, -75.0)[table.index_of(visit)]
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_decision_s": t2 - t1, "admit": admit}))
"""


def _one_start(cache_dir: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _CHILD, str(SHIPPED_CSV)], env=env, check=True,
                         capture_output=True, text=True)
    wall = time.perf_counter() - start
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["process_wall_s"] = wall
    figures["to_first_decision_s"] = figures["import_s"] + figures["first_decision_s"]
    return figures


def cold_and_warm() -> dict:
    """{"cold": {...}, "warm": {...}} seconds.

    ``to_first_decision_s`` is import + table build + first decision inside the process;
    ``process_wall_s`` is the whole process, interpreter start and exit included.
    """
    with tempfile.TemporaryDirectory(prefix="passport-numba-cache-") as cache_dir:
        cold = _one_start(cache_dir)
        warm = _one_start(cache_dir)
    return {"cold": cold, "warm": warm}
