"""Benchmark rows for the engine, through its public Python API, plus the memory floor."""

from __future__ import annotations

import numpy as np

from bench.inputs import RADIUS_MILES
from bench.registry import M_ENGINE, M_SPHERE, TASK_400, TASK_ALL, TASK_BIG, TASK_PAIR, register


def _pair(inputs) -> tuple[float, float, float, float]:
    lat, lon = inputs.query
    return lat, lon, float(inputs.lat_400[7]), float(inputs.lon_400[7])


@register(TASK_PAIR, "engine.geodesic_miles", note="exact", method=M_ENGINE)
def _geodesic(inputs):
    from engine import geodesic_miles

    return geodesic_miles, _pair(inputs)


@register(TASK_PAIR, "engine.haversine_miles", note="sphere", method=M_SPHERE)
def _haversine(inputs):
    from engine import haversine_miles

    return haversine_miles, _pair(inputs)


@register(TASK_PAIR, "table.beyond(id, id)", note="precomputed matrix", method=M_ENGINE)
def _beyond(inputs):
    table = inputs.table_400
    return table.beyond, (table.ids[0], table.ids[7])


@register(TASK_PAIR, "table.distance_and_beyond_from_point", note="exact", method=M_ENGINE)
def _point(inputs):
    table = inputs.table_400
    lat, lon = inputs.query
    return table.distance_and_beyond_from_point, (lat, lon, table.ids[7], RADIUS_MILES)


@register(TASK_400, "table.within", note="exact", method=M_ENGINE)
def _within_400(inputs):
    lat, lon = inputs.query
    return inputs.table_400.within, (lat, lon, RADIUS_MILES)


@register(TASK_BIG, "table.within", note="exact", method=M_ENGINE)
def _within_big(inputs):
    lat, lon = inputs.query
    return inputs.table_big.within, (lat, lon, RADIUS_MILES)


@register(TASK_ALL, "InstitutionTable matrix", note="exact; kernel + fix-ups", method=M_ENGINE)
def _matrix(inputs):
    return inputs.table_400._build_matrix, ()


@register(TASK_ALL, "InstitutionTable.from_arrays", note="checks + packing + matrix",
          method=M_ENGINE)
def _build(inputs):
    from engine import InstitutionTable

    return InstitutionTable.from_arrays, (inputs.ids_400, inputs.lat_400, inputs.lon_400)


def _floor(table):
    from engine import _kernels

    pts = table._pts
    return _kernels.read_floor, (pts,)


@register(TASK_400, "memory floor: read x,y,z once", note="numba sum of the same arrays")
def _floor_400(inputs):
    return _floor(inputs.table_400)


@register(TASK_BIG, "memory floor: read x,y,z once", note="24 MB; within() skips far rows")
def _floor_big(inputs):
    return _floor(inputs.table_big)


def engine_decisions(pairs: dict[str, np.ndarray], chunk: int = 2000
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(miles, within?) per accuracy pair through the public API.

    Decisions come from ``within()`` on tables of the second points (chunks of ``chunk``
    pairs, so each query's mask stays small), i.e. through the fast filter and the band.
    """
    from engine import InstitutionTable, geodesic_miles

    lat1, lon1, lat2, lon2 = pairs["lat1"], pairs["lon1"], pairs["lat2"], pairs["lon2"]
    n = len(lat1)
    miles = np.array([geodesic_miles(lat1[k], lon1[k], lat2[k], lon2[k]) for k in range(n)])
    within = np.zeros(n, bool)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        ids = [str(k) for k in range(start, stop)]
        table = InstitutionTable.from_arrays(ids, lat2[start:stop], lon2[start:stop], RADIUS_MILES)
        for k in range(start, stop):
            within[k] = table.within(lat1[k], lon1[k], RADIUS_MILES)[k - start]
    return miles, within


TASK_MEMBER = "member pages (400 sites)"


@register(TASK_MEMBER, "table.eligible_from(home)", note="matrix row + exact sort",
          method=M_ENGINE)
def _eligible(inputs):
    table = inputs.table_400
    return table.eligible_from, (table.ids[0],)


@register(TASK_MEMBER, "table.eligible_from(home, residence)", note="+ one within()",
          method=M_ENGINE)
def _eligible_res(inputs):
    table = inputs.table_400
    return table.eligible_from, (table.ids[0], inputs.query)


@register(TASK_MEMBER, "table.near(lat, lon, 10)", note="exact distances to all, sorted",
          method=M_ENGINE)
def _near(inputs):
    lat, lon = inputs.query
    return inputs.table_400.near, (lat, lon, 10)
