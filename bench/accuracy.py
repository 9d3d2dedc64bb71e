"""The accuracy table: max error against the WGS84 geodesic and wrong 90-mile decisions.

All pairs have a true (geographiclib) distance uniform in 85-95 miles: a uniform random
sample of pairs would hardly ever land near the boundary and hide the wrong decisions.
Slow peers (geopy geodesic, BallTree queries) are measured on the first 2,000 pairs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np

from bench.cases_engine import engine_decisions
from bench.cases_peers import EARTH_MEAN_RADIUS_MILES, METERS_PER_MILE, numpy_haversine_miles
from bench.inputs import RADIUS_MILES
from bench.registry import (
    M_BALLTREE,
    M_ENGINE,
    M_GEODESIC,
    M_GREAT_CIRCLE,
    M_HAV_PKG,
    M_PYPROJ,
    M_SPHERE,
)

SUBSAMPLE = 2_000


def _row(method: str, miles: np.ndarray | None, within: np.ndarray, truth: np.ndarray) -> dict:
    true_within = truth <= RADIUS_MILES
    row = {
        "method": method,
        "pairs": int(len(truth)),
        "wrong_decisions": int(np.count_nonzero(within != true_within)),
        "max_error_miles": None if miles is None else float(np.max(np.abs(miles - truth))),
    }
    row["wrong_percent"] = 100.0 * row["wrong_decisions"] / row["pairs"]
    return row


def _sphere(p):
    miles = numpy_haversine_miles(p["lat1"], p["lon1"], p["lat2"], p["lon2"])
    return miles, miles <= RADIUS_MILES


def _haversine_pkg(p):
    hv = importlib.import_module("haversine")
    a = np.column_stack([p["lat1"], p["lon1"]])
    b = np.column_stack([p["lat2"], p["lon2"]])
    miles = hv.haversine_vector(a, b, hv.Unit.MILES)
    return miles, miles <= RADIUS_MILES


def _geopy(name: str, n: int | None):
    def compute(p):
        fn = getattr(importlib.import_module("geopy.distance"), name)
        k = len(p["lat1"]) if n is None else min(n, len(p["lat1"]))
        miles = np.array([fn((p["lat1"][i], p["lon1"][i]), (p["lat2"][i], p["lon2"][i])).miles
                          for i in range(k)])
        return miles, miles <= RADIUS_MILES

    return compute


def _balltree(p):
    neighbors = importlib.import_module("sklearn.neighbors")
    k = min(SUBSAMPLE, len(p["lat1"]))
    tree = neighbors.BallTree(np.radians(np.column_stack([p["lat2"][:k], p["lon2"][:k]])),
                              metric="haversine")
    found = tree.query_radius(np.radians(np.column_stack([p["lat1"][:k], p["lon1"][:k]])),
                              RADIUS_MILES / EARTH_MEAN_RADIUS_MILES)
    within = np.array([i in set(hits.tolist()) for i, hits in enumerate(found)])
    return None, within


def _pyproj(p):
    geod = importlib.import_module("pyproj").Geod(ellps="WGS84")
    metres = geod.inv(p["lon1"], p["lat1"], p["lon2"], p["lat2"])[2]
    miles = metres / METERS_PER_MILE
    return miles, miles <= RADIUS_MILES


METHODS: dict[str, Callable] = {
    M_ENGINE: engine_decisions,
    M_SPHERE: _sphere,
    M_HAV_PKG: _haversine_pkg,
    M_GREAT_CIRCLE: _geopy("great_circle", None),
    M_GEODESIC: _geopy("geodesic", SUBSAMPLE),
    M_BALLTREE: _balltree,
    M_PYPROJ: _pyproj,
}


def accuracy_table(pairs: dict[str, np.ndarray]) -> tuple[list[dict], list[dict]]:
    """(rows, skipped) for every method whose package is importable."""
    rows, skipped = [], []
    for method, compute in METHODS.items():
        try:
            miles, within = compute(pairs)
        except ImportError as exc:
            skipped.append({"method": method, "reason": str(exc)})
            continue
        rows.append(_row(method, miles, within, pairs["true_miles"][: len(within)]))
    return rows, skipped
