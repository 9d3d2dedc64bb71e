"""Benchmark rows for the peers: geopy, haversine, numpy, scikit-learn BallTree, pyproj.

Each is optional: a missing package turns its rows into "skipped" lines with the reason.
Peers get the same inputs and the same precomputation the engine gets (radians, cosines).
"""

from __future__ import annotations

import importlib
import time

import numpy as np

from bench.inputs import RADIUS_MILES
from bench.registry import (
    M_BALLTREE,
    M_GEODESIC,
    M_GREAT_CIRCLE,
    M_HAV_PKG,
    M_PYPROJ,
    M_SPHERE,
    TASK_400,
    TASK_ALL,
    TASK_BIG,
    TASK_PAIR,
    Skip,
    register,
)
from engine import EARTH_MEAN_RADIUS_M, METERS_PER_MILE

# The engine's own constants (importing engine compiles nothing), so the sphere rows use
# exactly the radius engine.haversine_miles uses.
EARTH_MEAN_RADIUS_MILES = EARTH_MEAN_RADIUS_M / METERS_PER_MILE


def _need(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Skip(f"{module} not installed ({exc})") from None


# -- numpy vectorised haversine --------------------------------------------------------

class NumpyHaversine:
    """Haversine over precomputed radians and cos(lat), thresholded without arcsin."""

    def __init__(self, lat_deg: np.ndarray, lon_deg: np.ndarray) -> None:
        self.lat = np.radians(lat_deg)
        self.lon = np.radians(lon_deg)
        self.cos_lat = np.cos(self.lat)

    def within(self, lat_deg: float, lon_deg: float, miles: float) -> np.ndarray:
        lat, lon = np.radians(lat_deg), np.radians(lon_deg)
        h = (np.sin((self.lat - lat) / 2) ** 2
             + np.cos(lat) * self.cos_lat * np.sin((self.lon - lon) / 2) ** 2)
        return h <= np.sin(miles / EARTH_MEAN_RADIUS_MILES / 2) ** 2


def numpy_haversine_miles(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Elementwise haversine miles on the R1 sphere (for the accuracy table)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_MEAN_RADIUS_MILES * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


@register(TASK_400, "numpy haversine", note="sphere", method=M_SPHERE)
def _np_400(inputs):
    nh = NumpyHaversine(inputs.lat_400, inputs.lon_400)
    return nh.within, (*inputs.query, RADIUS_MILES)


@register(TASK_BIG, "numpy haversine", note="sphere", method=M_SPHERE)
def _np_big(inputs):
    nh = NumpyHaversine(inputs.lat_big, inputs.lon_big)
    return nh.within, (*inputs.query, RADIUS_MILES)


@register(TASK_ALL, "numpy haversine (400x400 broadcast)", note="sphere", method=M_SPHERE)
def _np_all(inputs):
    lat = np.radians(inputs.lat_400)
    lon = np.radians(inputs.lon_400)
    cos_lat = np.cos(lat)
    threshold = np.sin(RADIUS_MILES / EARTH_MEAN_RADIUS_MILES / 2) ** 2

    def matrix():
        h = (np.sin((lat[:, None] - lat[None, :]) / 2) ** 2
             + cos_lat[:, None] * cos_lat[None, :] * np.sin((lon[:, None] - lon[None, :]) / 2) ** 2)
        return h > threshold

    return matrix


# -- geopy ------------------------------------------------------------------------------

def _geopy(name: str):
    return getattr(_need("geopy.distance"), name)


def _geopy_pair(fn, inputs):
    p1, p2 = inputs.query, (float(inputs.lat_400[7]), float(inputs.lon_400[7]))
    return lambda: fn(p1, p2).miles


@register(TASK_PAIR, "geopy great_circle", note="sphere", method=M_GREAT_CIRCLE)
def _gc_pair(inputs):
    return _geopy_pair(_geopy("great_circle"), inputs)


@register(TASK_PAIR, "geopy geodesic", note="exact (geographiclib)", method=M_GEODESIC)
def _geod_pair(inputs):
    return _geopy_pair(_geopy("geodesic"), inputs)


def _geopy_loop(fn, inputs):
    q = inputs.query
    points = list(zip(inputs.lat_400.tolist(), inputs.lon_400.tolist(), strict=True))
    return lambda: [fn(q, p).miles <= RADIUS_MILES for p in points]


@register(TASK_400, "geopy great_circle loop", note="sphere", method=M_GREAT_CIRCLE)
def _gc_400(inputs):
    return _geopy_loop(_geopy("great_circle"), inputs)


@register(TASK_400, "geopy geodesic loop", note="exact", method=M_GEODESIC)
def _geod_400(inputs):
    return _geopy_loop(_geopy("geodesic"), inputs)


def _geopy_all(fn, inputs):
    points = list(zip(inputs.lat_400.tolist(), inputs.lon_400.tolist(), strict=True))

    def matrix():
        return [[fn(a, b).miles > RADIUS_MILES for b in points[i + 1:]]
                for i, a in enumerate(points)]

    return matrix


@register(TASK_ALL, "geopy great_circle loop (upper triangle)", note="sphere",
          method=M_GREAT_CIRCLE, slow=True, quick=False)
def _gc_all(inputs):
    return _geopy_all(_geopy("great_circle"), inputs)


@register(TASK_ALL, "geopy geodesic loop (upper triangle)", note="exact", method=M_GEODESIC,
          slow=True, quick=False)
def _geod_all(inputs):
    return _geopy_all(_geopy("geodesic"), inputs)


@register(TASK_BIG, "geopy loops", note="not run: ~10 s (great_circle) to ~90 s (geodesic)")
def _geopy_big(inputs):
    raise Skip("1,000,000 Python-level calls: about 10 s (great_circle) to 90 s (geodesic) "
               "a query, from the one-vs-400 figures")


# -- haversine package ------------------------------------------------------------------

@register(TASK_PAIR, "haversine.haversine", note="sphere", method=M_HAV_PKG)
def _hp_pair(inputs):
    hv = _need("haversine")
    p1 = inputs.query
    p2 = (float(inputs.lat_400[7]), float(inputs.lon_400[7]))
    return hv.haversine, (p1, p2, hv.Unit.MILES)


def _hp_vector(inputs, lat, lon):
    hv = _need("haversine")
    points = np.column_stack([lat, lon])
    q = np.array([inputs.query])
    return lambda: hv.haversine_vector(q, points, hv.Unit.MILES, comb=True)[:, 0] <= RADIUS_MILES


@register(TASK_400, "haversine.haversine_vector", note="sphere", method=M_HAV_PKG)
def _hp_400(inputs):
    return _hp_vector(inputs, inputs.lat_400, inputs.lon_400)


@register(TASK_BIG, "haversine.haversine_vector", note="sphere", method=M_HAV_PKG)
def _hp_big(inputs):
    return _hp_vector(inputs, inputs.lat_big, inputs.lon_big)


# -- scikit-learn BallTree --------------------------------------------------------------

def _balltree(inputs, lat, lon, label: str):
    neighbors = _need("sklearn.neighbors")
    start = time.perf_counter()
    tree = neighbors.BallTree(np.radians(np.column_stack([lat, lon])), metric="haversine")
    inputs.note_build(f"BallTree(metric='haversine') build, {label}", time.perf_counter() - start)
    return tree


def _bt_one(inputs, lat, lon, label: str):
    tree = _balltree(inputs, lat, lon, label)
    return tree.query_radius, (np.radians([inputs.query]), RADIUS_MILES / EARTH_MEAN_RADIUS_MILES)


@register(TASK_400, "sklearn BallTree.query_radius", note="sphere; indices, build apart",
          method=M_BALLTREE)
def _bt_400(inputs):
    return _bt_one(inputs, inputs.lat_400, inputs.lon_400, "400 points")


@register(TASK_BIG, "sklearn BallTree.query_radius", note="sphere; indices, build apart",
          method=M_BALLTREE)
def _bt_big(inputs):
    return _bt_one(inputs, inputs.lat_big, inputs.lon_big, "1,000,000 points")


@register(TASK_ALL, "sklearn BallTree.query_radius (all 400)", note="sphere; build apart",
          method=M_BALLTREE)
def _bt_all(inputs):
    tree = _balltree(inputs, inputs.lat_400, inputs.lon_400, "400 points (all pairs)")
    q = np.radians(np.column_stack([inputs.lat_400, inputs.lon_400]))
    return tree.query_radius, (q, RADIUS_MILES / EARTH_MEAN_RADIUS_MILES)


# -- pyproj -----------------------------------------------------------------------------

def _geod():
    return _need("pyproj").Geod(ellps="WGS84")


@register(TASK_PAIR, "pyproj Geod.inv", note="exact (Karney)", method=M_PYPROJ)
def _pp_pair(inputs):
    geod = _geod()
    lat, lon = inputs.query
    return geod.inv, (lon, lat, float(inputs.lon_400[7]), float(inputs.lat_400[7]))


def _pp_vector(inputs, lat, lon):
    geod = _geod()
    qlat = np.full(len(lat), inputs.query[0])
    qlon = np.full(len(lat), inputs.query[1])
    limit_m = RADIUS_MILES * METERS_PER_MILE

    def within():
        return geod.inv(qlon, qlat, lon, lat, return_back_azimuth=False)[2] <= limit_m

    return within


@register(TASK_400, "pyproj Geod.inv (arrays)", note="exact", method=M_PYPROJ)
def _pp_400(inputs):
    return _pp_vector(inputs, inputs.lat_400, inputs.lon_400)


@register(TASK_BIG, "pyproj Geod.inv (arrays)", note="exact", method=M_PYPROJ, quick=False)
def _pp_big(inputs):
    return _pp_vector(inputs, inputs.lat_big, inputs.lon_big)


@register(TASK_ALL, "pyproj Geod.inv (upper triangle)", note="exact", method=M_PYPROJ)
def _pp_all(inputs):
    geod = _geod()
    i, j = np.triu_indices(len(inputs.lat_400), k=1)
    lat, lon = inputs.lat_400, inputs.lon_400
    lat1, lon1, lat2, lon2 = lat[i], lon[i], lat[j], lon[j]
    limit_m = RADIUS_MILES * METERS_PER_MILE
    return lambda: geod.inv(lon1, lat1, lon2, lat2, return_back_azimuth=False)[2] > limit_m
