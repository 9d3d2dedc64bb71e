"""Numba geodistance engine: kernels and the immutable InstitutionTable. No I/O.

Distances are exact WGS84 geodesics in statute miles (1 mile = 1609.344 m); every
within/beyond decision equals geographiclib's. See ``engine.distance`` for the accuracy
figures and the derivation of the fast filter's ambiguity band.
"""

from engine.distance import (
    EARTH_MEAN_RADIUS_M,
    METERS_PER_MILE,
    CoordinateError,
    geodesic_miles,
    haversine_miles,
    warm_up,
)
from engine.table import InstitutionTable, TableError

__all__ = [
    "EARTH_MEAN_RADIUS_M",
    "METERS_PER_MILE",
    "CoordinateError",
    "InstitutionTable",
    "TableError",
    "geodesic_miles",
    "haversine_miles",
    "warm_up",
]
