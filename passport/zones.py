"""Exclusion zones for the member's map: the points within the program radius of the home
institution or the residence, as geodesic circles on WGS84, as GeoJSON polygons.

Vertices are placed with the ellipsoidal direct problem (geographiclib), and as many of
them as it takes for every edge, drawn straight in longitude/latitude as GeoJSON and shapely
draw it, to stay within ``tolerance_miles`` (0.1 mile by default) of the true circle: each
edge's midpoint and quarter points are measured back to the centre with the exact inverse.
A circle across the antimeridian becomes a MultiPolygon split at +-180 degrees; a circle
around a pole is closed along that pole's latitude line, so ``covers`` answers right on
both sides.
"""

from __future__ import annotations

import functools
import math

from shapely import affinity
from shapely.geometry import Polygon, box, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

METERS_PER_MILE = 1609.344  # the international mile
DEFAULT_TOLERANCE_MILES = 0.1
_MIN_VERTICES = 32
_MAX_VERTICES = 65536


@functools.cache
def _geodesic():
    from geographiclib.geodesic import Geodesic  # loaded when a zone is first drawn

    return Geodesic.WGS84


def _ring(lat_deg: float, lon_deg: float, radius_m: float, count: int
          ) -> list[tuple[float, float]]:
    """``count`` points on the circle, clockwise from north, longitudes unwrapped so that
    consecutive points never jump by 360 degrees."""
    geod = _geodesic()
    points: list[tuple[float, float]] = []
    previous = lon_deg
    for k in range(count):
        out = geod.Direct(lat_deg, lon_deg, 360.0 * k / count, radius_m)
        lon = out["lon2"]
        lon += 360.0 * round((previous - lon) / 360.0)
        points.append((lon, out["lat2"]))
        previous = lon
    return points


def _worst_edge_error_m(lat_deg: float, lon_deg: float, radius_m: float,
                        ring: list[tuple[float, float]]) -> float:
    """How far the straight edges stray from the circle (metres, measured at 1/4, 1/2, 3/4
    of each edge with the engine's exact geodesic)."""
    from engine import geodesic_miles  # compiled: the check costs microseconds per point

    worst = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        if abs(x1 - x0) > 180.0:  # the closing edge of a circle around a pole
            continue
        for t in (0.25, 0.5, 0.75):
            lat = y0 + t * (y1 - y0)
            lon = x0 + t * (x1 - x0)
            lon = (lon + 180.0) % 360.0 - 180.0
            distance = geodesic_miles(lat_deg, lon_deg, max(-90.0, min(90.0, lat)),
                                      lon) * METERS_PER_MILE
            worst = max(worst, abs(distance - radius_m))
    return worst


def _polygon(lat_deg: float, lon_deg: float, ring: list[tuple[float, float]]) -> Polygon:
    """The circle as a polygon in unwrapped longitudes (may reach past +-180)."""
    span = ring[-1][0] - ring[0][0]
    if abs(span) < 180.0:
        return Polygon(ring)
    # The circle goes round a pole: its longitudes cover a full turn. Close it along the
    # pole's latitude line (the pole is inside the circle).
    pole = 90.0 if lat_deg > 0 else -90.0
    first_lon, first_lat = ring[0]
    step = 360.0 if span > 0 else -360.0
    closed = [*ring, (first_lon + step, first_lat), (first_lon + step, pole),
              (first_lon, pole)]
    return Polygon(closed)


def _fold(shape: Polygon) -> BaseGeometry:
    """Bring an unwrapped polygon into -180..180, split at the antimeridian (pieces that
    meet inside that range, as a pole circle's do, are merged back into one)."""
    parts = []
    for shift in (-720.0, -360.0, 0.0, 360.0, 720.0):
        window = box(-180.0 - shift, -90.0, 180.0 - shift, 90.0)
        piece = shape.intersection(window)
        if not piece.is_empty and piece.area > 0.0:
            parts.append(affinity.translate(piece, xoff=shift))
    return unary_union(parts)


@functools.lru_cache(maxsize=1024)  # a home site's zone is drawn once
def exclusion_zone(lat_deg: float, lon_deg: float, radius_miles: float,
                   tolerance_miles: float = DEFAULT_TOLERANCE_MILES) -> BaseGeometry:
    """The points within ``radius_miles`` of (``lat_deg``, ``lon_deg``) on WGS84, as a
    shapely Polygon (or MultiPolygon across the antimeridian) in lon/lat degrees whose
    outline stays within ``tolerance_miles`` of the true geodesic circle."""
    if not (-90.0 <= lat_deg <= 90.0 and -180.0 <= lon_deg <= 180.0):
        raise ValueError(f"centre ({lat_deg!r}, {lon_deg!r}) is not a point in degrees")
    if not (0.0 < radius_miles < 6000.0):
        raise ValueError(f"radius_miles must be between 0 and 6000, not {radius_miles!r}")
    radius_m = radius_miles * METERS_PER_MILE
    tolerance_m = tolerance_miles * METERS_PER_MILE
    # A chord of a circle of radius r strays r(1 - cos(pi/n)) ~ r pi^2 / (2 n^2) from it:
    # start at the n that gives the tolerance (plus a margin for the lon/lat drawing).
    count = max(_MIN_VERTICES, math.ceil(1.25 * math.pi * math.sqrt(radius_m / (2 * tolerance_m))))
    ring = _ring(lat_deg, lon_deg, radius_m, count)
    while _worst_edge_error_m(lat_deg, lon_deg, radius_m, ring) > tolerance_m:
        if count >= _MAX_VERTICES:
            raise ValueError(f"cannot draw a {radius_miles} mile circle within "
                             f"{tolerance_miles} mile")
        count = math.ceil(count * 1.5)
        ring = _ring(lat_deg, lon_deg, radius_m, count)
    return _fold(_polygon(lat_deg, lon_deg, ring))


def zone_feature(lat_deg: float, lon_deg: float, radius_miles: float, center: str) -> dict:
    """A GeoJSON Feature of one exclusion zone (``center``: "home" or "residence")."""
    return {
        "type": "Feature",
        "geometry": mapping(exclusion_zone(lat_deg, lon_deg, radius_miles)),
        "properties": {"kind": "exclusion", "center": center, "radius_miles": radius_miles},
    }
