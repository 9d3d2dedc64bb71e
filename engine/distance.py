"""Scalar distances (haversine, exact WGS84 geodesic), input checks and kernel warm-up.

Accuracy
--------
``geodesic_miles`` is Vincenty's inverse on WGS84 (a = 6378137 m, f = 1/298.257223563),
compiled with Numba. Against geographiclib (Karney 2013, accurate to 15 nm) it agrees to
1.1e-6 m at 90 miles (measured) and to 0.1 mm (``GEODESIC_ACCURACY_M``) anywhere on Earth:
the tests hold it to that bound on geographiclib's own published reference values and on
random and nearly antipodal pairs. Where Vincenty does not converge (nearly antipodal
points, about 10 % of pairs within 1 degree of the antipode) the answer comes from
geographiclib instead, so the function is exact everywhere.

``haversine_miles`` is the great circle on the sphere of IUGG mean radius R1 = (2a + b)/3 =
6,371,008.77 m; it is off the geodesic by up to 0.56 % (0.51 mile at 90 miles).

The ambiguity band (why the fast filter is safe)
------------------------------------------------
Map the ellipsoid to the unit sphere keeping geodetic latitude and longitude. The
ellipsoid's line element is ds^2 = M(phi)^2 dphi^2 + N(phi)^2 cos^2(phi) dlambda^2 and the
sphere's is dsigma^2 = dphi^2 + cos^2(phi) dlambda^2, so every curve's length ratio lies
between the smallest and largest radius of curvature of the ellipsoid:

    M_min = a (1 - e^2)          = 6,335,439.3 m   (meridian, at the equator)
    c     = a / sqrt(1 - e^2)    = 6,399,593.6 m   (any direction, at the poles)

Taking the shortest curve on either surface gives, for every pair, with theta the
central angle between the two points' (geodetic) unit vectors:

    M_min * theta  <=  geodesic distance  <=  c * theta

So a pair is surely within radius r when theta < r / c and surely beyond when
theta > r / M_min; only pairs in between are refined with Vincenty. In miles of a
spherical (R1) distance the band is [0.99553 r, 1.00561 r]: at r = 90 miles it runs from
89.598 to 90.505 miles, i.e. -0.402 / +0.505 mile. The relative bound holds at every
distance and latitude, so no empirical margin is needed; the kernels add 1e-9 relative and
1e-12 rad (6 micrometres) for float round-off in the chords. The filter compares squared
chords of unit vectors (three multiply-adds per pair, no trigonometry). Rows are kept in
latitude bands sorted by longitude: since theta >= |delta latitude|, and a spherical cap
of radius theta around latitude phi spans |delta longitude| <= asin(sin theta / cos phi)
when it holds no pole, a query scans only the box of rows it can reach (theta = r / M_min);
every other row is beyond without being read. The all-pairs matrix sorts by latitude and
stops each row's scan at the first row too far north.

Decisions: "within r" means geodesic distance <= r + 1 micrometre (``BOUNDARY_SLACK_M``),
so a pair placed at exactly r is within despite nanometre round-off; exactly 90.0 miles is
within, hence not eligible. A refined pair whose Vincenty distance lies within
2e-10 * r + 1e-5 m of that limit is settled by geographiclib, so every decision equals the
decision geographiclib's distance gives.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import float64, typeof

from engine import _kernels as K

METERS_PER_MILE = K.METERS_PER_MILE
EARTH_MEAN_RADIUS_M = K.EARTH_MEAN_RADIUS_M
BOUNDARY_SLACK_M = K.BOUNDARY_SLACK_M

SPHERE_BAND_LOW = EARTH_MEAN_RADIUS_M / K.MAX_CURVATURE_RADIUS_M  # 0.99553
# The stated accuracy of geodesic_miles, in metres (0.1 mm); tests/test_engine*.py hold it.
GEODESIC_ACCURACY_M = 1e-4
SPHERE_BAND_HIGH = EARTH_MEAN_RADIUS_M / K.MIN_CURVATURE_RADIUS_M  # 1.00561


class CoordinateError(ValueError):
    """A latitude or longitude is not a finite number in range."""


def check_point(lat_deg: float, lon_deg: float, what: str = "point") -> tuple[float, float]:
    """Return (lat, lon) as floats or raise CoordinateError naming the bad value."""
    try:
        lat = float(lat_deg)
        lon = float(lon_deg)
    except (TypeError, ValueError) as exc:
        raise CoordinateError(
            f"{what}: latitude/longitude must be numbers, got {lat_deg!r}, {lon_deg!r}"
        ) from exc
    if not -90.0 <= lat <= 90.0:  # also rejects NaN
        raise CoordinateError(f"{what}: latitude {lat_deg!r} is not in [-90, 90]")
    if not -180.0 <= lon <= 180.0:
        raise CoordinateError(f"{what}: longitude {lon_deg!r} is not in [-180, 180]")
    return lat, lon


def check_miles(miles: float) -> float:
    """Return a radius in miles as float or raise ValueError naming it."""
    try:
        value = float(miles)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"radius must be a number of miles, got {miles!r}") from exc
    if not 0.0 <= value < math.inf:
        raise ValueError(f"radius {miles!r} miles must be finite and >= 0")
    return value


def reference_geodesic_m(
    lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float
) -> float:
    """geographiclib's WGS84 distance in metres (the fallback and the test reference)."""
    # Imported here: only nearly antipodal pairs and close calls ever need it.
    from geographiclib.geodesic import Geodesic

    return Geodesic.WGS84.Inverse(lat1_deg, lon1_deg, lat2_deg, lon2_deg, Geodesic.DISTANCE)[
        "s12"
    ]


class _Entry:
    """Compiled entry points of the hot kernels, bound on first use (no import-time JIT).

    Calling a specialisation's entry point skips the dispatcher's per-call type
    resolution, a large share of so short a call. The arguments' types are fixed
    (floats; the table's own arrays), so one specialisation each is all that is needed.
    """

    geodesic = None
    haversine = None
    within = None

    @classmethod
    def bind(cls) -> None:
        four_floats = (float64, float64, float64, float64)
        for name, disp in (
            ("geodesic", K.geodesic_miles_or_flag),
            ("haversine", K.haversine_miles_or_flag),
        ):
            disp.compile(four_floats)
            setattr(cls, name, disp.overloads[four_floats].entry_point)
        pts, perm, offsets = K.layout(np.zeros(1), np.zeros(1))
        K.within_mask(pts, perm, offsets, 0.0, 0.0, 1.0)
        pts_type = typeof(pts)
        sig_within = next(s for s in K.within_mask.signatures if s[0] == pts_type)
        cls.within = K.within_mask.overloads[sig_within].entry_point


# geodesic_miles and haversine_miles are spelled out twice on purpose: they are the
# hot path, and a shared wrapper taking the kernel as an argument would add
# a call and an attribute lookup per call. What they share lives in _scalar_slow_path.
def geodesic_miles(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Exact WGS84 geodesic distance in statute miles between two points in degrees.

    Accurate to 0.1 mm (Vincenty, geographiclib where Vincenty does not converge).
    Raises ValueError naming a NaN or out-of-range coordinate.
    """
    try:
        d = _Entry.geodesic(lat1_deg, lon1_deg, lat2_deg, lon2_deg)
        if d >= 0.0:
            return d
    except TypeError:  # not bound yet (None), or a non-number argument
        pass
    return _scalar_slow_path("geodesic", lat1_deg, lon1_deg, lat2_deg, lon2_deg)


def haversine_miles(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle miles on a sphere of the IUGG mean radius (up to 0.56 % off WGS84)."""
    try:
        d = _Entry.haversine(lat1_deg, lon1_deg, lat2_deg, lon2_deg)
        if d >= 0.0:
            return d
    except TypeError:  # not bound yet (None), or a non-number argument
        pass
    return _scalar_slow_path("haversine", lat1_deg, lon1_deg, lat2_deg, lon2_deg)


def _scalar_slow_path(kernel: str, lat1_deg, lon1_deg, lat2_deg, lon2_deg) -> float:
    """Bind the kernels, raise for bad input, settle a non-converged Vincenty pair."""
    if getattr(_Entry, kernel) is None:
        _Entry.bind()
    lat1, lon1 = check_point(lat1_deg, lon1_deg, "first point")
    lat2, lon2 = check_point(lat2_deg, lon2_deg, "second point")
    d = getattr(_Entry, kernel)(lat1, lon1, lat2, lon2)
    if d != d:  # Vincenty did not converge: nearly antipodal
        d = reference_geodesic_m(lat1, lon1, lat2, lon2) / METERS_PER_MILE
    return d


def within_limit_m(radius_miles: float) -> float:
    """The largest distance in metres that still counts as within ``radius_miles``."""
    return radius_miles * METERS_PER_MILE + BOUNDARY_SLACK_M


def exact_pair_within(
    lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float, radius_miles: float
) -> tuple[float, bool]:
    """(distance miles, within?) for one pair; close calls settled by geographiclib."""
    d_miles = geodesic_miles(lat1_deg, lon1_deg, lat2_deg, lon2_deg)
    limit_m = within_limit_m(radius_miles)
    d_m = d_miles * METERS_PER_MILE
    if abs(d_m - limit_m) <= K.close_call_m(limit_m):
        d_m = reference_geodesic_m(lat1_deg, lon1_deg, lat2_deg, lon2_deg)
        d_miles = d_m / METERS_PER_MILE
    return d_miles, d_m <= limit_m


def warm_up() -> float:
    """Compile or load from the numba cache every kernel; return the seconds it took."""
    start = time.perf_counter()
    _Entry.bind()
    lat = np.array([40.0, 41.0, -33.9])
    lon = np.array([-75.0, -74.0, 151.2])
    radius_m = 100.0 * METERS_PER_MILE  # any radius compiles the same kernels
    pts, perm, offsets = K.layout(lat, lon)
    K.within_mask(pts, perm, offsets, 40.5, -74.5, radius_m)
    K.unresolved_rows(pts, perm, offsets, 40.5, -74.5, radius_m)
    K.distances_miles(pts, perm, 40.5, -74.5)
    pts, perm = K.lat_sorted(lat, lon)
    K.beyond_matrix(pts, perm, radius_m)
    K.read_floor(pts)
    geodesic_miles(40.0, -75.0, 41.0, -74.0)
    haversine_miles(40.0, -75.0, 41.0, -74.0)
    return time.perf_counter() - start
