"""Compiled kernels: plain ``@njit(cache=True)``, no fastmath, no validation.

Callers (``engine.distance`` and ``engine.table``) validate inputs; kernels only compute.
Two conventions keep the Python side cheap:

* the scalar kernels return ``-1.0`` when a coordinate is NaN or out of range, so the
  public function checks one float on the hot path and only then works out what was wrong;
* a NaN distance means Vincenty's iteration did not converge (nearly antipodal points); the
  array kernels count such pairs and the Python side settles them with geographiclib.

Per-row data of a table is one ``(7, n)`` float64 array (rows below) plus ``perm``
mapping position -> table index. Queries use the band layout of :func:`layout` (latitude
bands, longitude-sorted inside each); the all-pairs matrix uses plain latitude order.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# WGS84 defining constants (NIMA TR8350.2, 3rd ed., table 3.1).
WGS84_A_M = 6378137.0
WGS84_F = 1.0 / 298.257223563
WGS84_B_M = WGS84_A_M * (1.0 - WGS84_F)
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
# IUGG mean radius R1 = (2a + b) / 3 (Moritz 1980, Geodetic Reference System 1980).
EARTH_MEAN_RADIUS_M = (2.0 * WGS84_A_M + WGS84_B_M) / 3.0
# Extremes of the ellipsoid's radii of curvature: the meridional radius M at the equator
# is the smallest, the polar radius of curvature c = a / sqrt(1 - e^2) the largest.
MIN_CURVATURE_RADIUS_M = WGS84_A_M * (1.0 - WGS84_E2)
MAX_CURVATURE_RADIUS_M = WGS84_A_M / math.sqrt(1.0 - WGS84_E2)
# International yard and pound agreement (1959): 1 statute mile = 1609.344 m exactly.
METERS_PER_MILE = 1609.344
# A pair at exactly the radius is within; round-off in placing such a pair moves it by
# nanometres, so "within" means distance <= radius + 1 micrometre. Shipped coordinates
# have 6 decimals (~0.1 m), so no real pair lies inside this allowance.
BOUNDARY_SLACK_M = 1e-6
# Relative slack on the filter thresholds, far above float64 round-off in the chords.
_FILTER_REL_SLACK = 1e-9
# Vincenty's series stop at u^8: measured against geographiclib it is off by at most
# 1.1e-6 m at 90 miles and 7.6e-5 m at 19,000 km (about 7e-12 of the distance). A pair whose
# Vincenty distance lies this close to the limit is a close call and goes to geographiclib,
# so every decision equals geographiclib's. Margin = 2e-10 * limit + 1e-5 m (>= 14x the error).
CLOSE_CALL_REL = 2e-10
CLOSE_CALL_ABS_M = 1e-5

VINCENTY_MAX_ITER = 200
VINCENTY_TOL_RAD = 1e-13

ROW_X, ROW_Y, ROW_Z, ROW_LAT_DEG, ROW_LON_RAD, ROW_SIN_U, ROW_COS_U = range(7)
N_ROWS = 7
MAX_BANDS = 720


@njit(cache=True)
def _valid(lat_deg, lon_deg):
    # Comparisons with NaN are False, so NaN fails here too.
    return -90.0 <= lat_deg <= 90.0 and -180.0 <= lon_deg <= 180.0


@njit(cache=True)
def reduced_latitude(lat_deg):
    """(sin U, cos U) of the reduced latitude, stable at the poles."""
    phi = math.radians(lat_deg)
    s = (1.0 - WGS84_F) * math.sin(phi)
    c = math.cos(phi)
    h = math.hypot(s, c)
    return s / h, c / h


@njit(cache=True)
def _sigma_terms(sin_u1, cos_u1, sin_u2, cos_u2, lam):
    """(sin sigma, cos sigma, sigma, sin alpha, cos^2 alpha, cos 2sigma_m) at lambda."""
    sin_lam = math.sin(lam)
    cos_lam = math.cos(lam)
    t1 = cos_u2 * sin_lam
    t2 = cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_lam
    sin_sigma = math.sqrt(t1 * t1 + t2 * t2)
    cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_lam
    sigma = math.atan2(sin_sigma, cos_sigma)
    sin_alpha = cos_u1 * cos_u2 * sin_lam / sin_sigma if sin_sigma != 0.0 else 0.0
    cos2_alpha = 1.0 - sin_alpha * sin_alpha
    # On an equatorial line cos^2 alpha = 0 and the term drops out.
    cos_2sm = cos_sigma - 2.0 * sin_u1 * sin_u2 / cos2_alpha if cos2_alpha != 0.0 else 0.0
    return sin_sigma, cos_sigma, sigma, sin_alpha, cos2_alpha, cos_2sm


@njit(cache=True)
def vincenty_m(sin_u1, cos_u1, lon1_rad, sin_u2, cos_u2, lon2_rad):
    """Vincenty (1975) inverse on WGS84 in metres; NaN when it does not converge."""
    big_l = lon2_rad - lon1_rad
    if big_l > math.pi:
        big_l -= 2.0 * math.pi
    elif big_l < -math.pi:
        big_l += 2.0 * math.pi
    lam = big_l
    converged = False
    for _ in range(VINCENTY_MAX_ITER):
        sin_sigma, cos_sigma, sigma, sin_alpha, cos2_alpha, cos_2sm = _sigma_terms(
            sin_u1, cos_u1, sin_u2, cos_u2, lam
        )
        if sin_sigma == 0.0:
            if cos_sigma > 0.0:
                return 0.0  # coincident points
            return math.nan  # exactly antipodal: leave it to geographiclib
        c = WGS84_F / 16.0 * cos2_alpha * (4.0 + WGS84_F * (4.0 - 3.0 * cos2_alpha))
        lam_prev = lam
        lam = big_l + (1.0 - c) * WGS84_F * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1.0 + 2.0 * cos_2sm * cos_2sm))
        )
        if abs(lam) > math.pi:
            return math.nan
        if abs(lam - lam_prev) <= VINCENTY_TOL_RAD:
            converged = True
            break
    if not converged:
        return math.nan
    # Evaluate sigma and alpha at the converged lambda rather than the one before it.
    sin_sigma, cos_sigma, sigma, _, cos2_alpha, cos_2sm = _sigma_terms(
        sin_u1, cos_u1, sin_u2, cos_u2, lam
    )
    u2 = cos2_alpha * (WGS84_A_M * WGS84_A_M - WGS84_B_M * WGS84_B_M) / (WGS84_B_M * WGS84_B_M)
    big_a = 1.0 + u2 / 16384.0 * (4096.0 + u2 * (-768.0 + u2 * (320.0 - 175.0 * u2)))
    big_b = u2 / 1024.0 * (256.0 + u2 * (-128.0 + u2 * (74.0 - 47.0 * u2)))
    c2sm2 = cos_2sm * cos_2sm
    delta_sigma = big_b * sin_sigma * (
        cos_2sm
        + big_b
        / 4.0
        * (
            cos_sigma * (-1.0 + 2.0 * c2sm2)
            - big_b / 6.0 * cos_2sm * (-3.0 + 4.0 * sin_sigma * sin_sigma) * (-3.0 + 4.0 * c2sm2)
        )
    )
    return WGS84_B_M * big_a * (sigma - delta_sigma)


@njit(cache=True)
def geodesic_miles_or_flag(lat1_deg, lon1_deg, lat2_deg, lon2_deg):
    """Geodesic miles; -1.0 for invalid input; NaN when Vincenty does not converge."""
    if not (_valid(lat1_deg, lon1_deg) and _valid(lat2_deg, lon2_deg)):
        return -1.0
    s1, c1 = reduced_latitude(lat1_deg)
    s2, c2 = reduced_latitude(lat2_deg)
    d_m = vincenty_m(s1, c1, math.radians(lon1_deg), s2, c2, math.radians(lon2_deg))
    return d_m / METERS_PER_MILE


@njit(cache=True)
def haversine_miles_or_flag(lat1_deg, lon1_deg, lat2_deg, lon2_deg):
    """Great-circle miles on the sphere of radius R1; -1.0 for invalid input."""
    if not (_valid(lat1_deg, lon1_deg) and _valid(lat2_deg, lon2_deg)):
        return -1.0
    p1 = math.radians(lat1_deg)
    p2 = math.radians(lat2_deg)
    dp = p2 - p1
    dl = math.radians(lon2_deg - lon1_deg)
    h = math.sin(dp / 2.0) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2.0) ** 2
    h = min(1.0, h)
    return 2.0 * EARTH_MEAN_RADIUS_M * math.asin(math.sqrt(h)) / METERS_PER_MILE


@njit(cache=True)
def point_row(lat_deg, lon_deg):
    """The seven per-row values for one point (see module docstring)."""
    phi = math.radians(lat_deg)
    lam = math.radians(lon_deg)
    cp = math.cos(phi)
    s_u, c_u = reduced_latitude(lat_deg)
    return cp * math.cos(lam), cp * math.sin(lam), math.sin(phi), lat_deg, lam, s_u, c_u


@njit(cache=True)
def pack_points(lat_deg, lon_deg, order):
    """(7, n) per-row data with rows in ``order`` (a permutation of the input rows)."""
    n = lat_deg.shape[0]
    pts = np.empty((N_ROWS, n))
    for k in range(n):
        i = order[k]
        x, y, z, la, lo, su, cu = point_row(lat_deg[i], lon_deg[i])
        pts[ROW_X, k] = x
        pts[ROW_Y, k] = y
        pts[ROW_Z, k] = z
        pts[ROW_LAT_DEG, k] = la
        pts[ROW_LON_RAD, k] = lo
        pts[ROW_SIN_U, k] = su
        pts[ROW_COS_U, k] = cu
    return pts


def band_count(n_rows: int) -> int:
    """Latitude bands for a table: about 64 rows a band, between 1 and 720 (0.25 degree)."""
    return int(min(MAX_BANDS, max(1, n_rows // 64)))


def layout(lat_deg: np.ndarray, lon_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Query layout (pts, perm, band offsets): rows by latitude band, then by longitude.

    A query visits only the bands its latitude window touches and, inside each band, only
    the longitude range its cap can reach (two binary searches), so it reads a small box
    of rows around the point instead of the whole table. Plain numpy: runs once per table.
    """
    n_bands = band_count(lat_deg.shape[0])
    band = np.minimum(((lat_deg + 90.0) * (n_bands / 180.0)).astype(np.int64), n_bands - 1)
    perm = np.lexsort((lon_deg, band)).astype(np.int64)
    offsets = np.searchsorted(band[perm], np.arange(n_bands + 1)).astype(np.int64)
    return pack_points(lat_deg, lon_deg, perm), perm, offsets


def lat_sorted(lat_deg: np.ndarray, lon_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pts, perm) sorted by latitude: the all-pairs matrix's layout."""
    perm = np.argsort(lat_deg, kind="stable").astype(np.int64)
    return pack_points(lat_deg, lon_deg, perm), perm


@njit(cache=True)
def filter_thresholds(radius_m):
    """(chord^2 below which surely within, chord^2 above which surely beyond, lat window deg).

    Angles are on the unit sphere of geodetic latitude/longitude; see
    ``engine.distance`` for why ``r / c <= angle <= r / M_min`` brackets the band.
    """
    # 1e-12 rad (6 micrometres) absorbs the chords' absolute round-off (~5e-16) at tiny radii.
    theta_lo = max(0.0, radius_m / MAX_CURVATURE_RADIUS_M * (1.0 - _FILTER_REL_SLACK) - 1e-12)
    theta_hi = (radius_m + BOUNDARY_SLACK_M) / MIN_CURVATURE_RADIUS_M * (
        1.0 + _FILTER_REL_SLACK
    ) + 1e-12
    s = math.sin(theta_lo / 2.0)
    chord2_lo = 4.0 * s * s
    if theta_hi >= math.pi:
        chord2_hi = 5.0  # larger than any chord^2 (max 4): nothing is surely beyond
        window_deg = 360.0
    else:
        s = math.sin(theta_hi / 2.0)
        chord2_hi = 4.0 * s * s
        window_deg = math.degrees(theta_hi) * (1.0 + _FILTER_REL_SLACK)
    return chord2_lo, chord2_hi, window_deg


@njit(cache=True)
def close_call_m(limit_m):
    """Half-width around the limit inside which Vincenty's answer is not trusted."""
    return CLOSE_CALL_REL * limit_m + CLOSE_CALL_ABS_M


@njit(cache=True)
def _pair_code(pts, k, q, chord2_lo, chord2_hi, limit_m, close_m):
    """1 within, 0 beyond, -1 unresolved (no convergence, or a close call)."""
    dx = pts[ROW_X, k] - q[0]
    dy = pts[ROW_Y, k] - q[1]
    dz = pts[ROW_Z, k] - q[2]
    c2 = dx * dx + dy * dy + dz * dz
    if c2 < chord2_lo:
        return 1
    if c2 > chord2_hi:
        return 0
    d_m = vincenty_m(q[5], q[6], q[4], pts[ROW_SIN_U, k], pts[ROW_COS_U, k], pts[ROW_LON_RAD, k])
    if d_m != d_m or abs(d_m - limit_m) <= close_m:
        return -1
    return 1 if d_m <= limit_m else 0


@njit(cache=True)
def _push(buf, count, value):
    """Append to a growable int64 buffer; returns (buffer, new count)."""
    if count == buf.shape[0]:
        grown = np.empty(max(8, 2 * count), np.int64)
        grown[:count] = buf[:count]
        buf = grown
    buf[count] = value
    return buf, count + 1


@njit(cache=True)
def _lon_ranges(lon_rad, half_width_rad):
    """One or two [lo, hi] longitude ranges (radians) covering lon +- half width."""
    out = np.empty((2, 2))
    if half_width_rad >= math.pi:
        out[0, 0], out[0, 1] = -4.0, 4.0
        return out, 1
    lo = lon_rad - half_width_rad
    hi = lon_rad + half_width_rad
    if lo < -math.pi:
        out[0, 0], out[0, 1] = -4.0, hi
        out[1, 0], out[1, 1] = lo + 2.0 * math.pi, 4.0
        return out, 2
    if hi > math.pi:
        out[0, 0], out[0, 1] = lo, 4.0
        out[1, 0], out[1, 1] = -4.0, hi - 2.0 * math.pi
        return out, 2
    out[0, 0], out[0, 1] = lo, hi
    return out, 1


@njit(cache=True)
def _query(pts, offsets, lat_deg, lon_deg, radius_m):
    """Per-query set-up: the point's row, filter thresholds, and the row ranges to scan.

    Every row outside the ranges is surely beyond: its angle from the point exceeds
    theta_hi, because either its latitude differs by more (angle >= |delta latitude|) or
    its longitude does (a cap of radius theta around latitude phi, not holding a pole,
    spans |delta longitude| <= asin(sin theta / cos phi)).
    """
    chord2_lo, chord2_hi, window_deg = filter_thresholds(radius_m)
    qa = np.empty(N_ROWS)
    qa[0], qa[1], qa[2], qa[3], qa[4], qa[5], qa[6] = point_row(lat_deg, lon_deg)
    n_bands = offsets.shape[0] - 1
    theta = math.radians(window_deg)
    if abs(lat_deg) + window_deg >= 90.0 or theta >= 0.5 * math.pi:
        half_width = 2.0 * math.pi  # the cap holds a pole: every longitude
    else:
        half_width = math.asin(min(1.0, math.sin(theta) / math.cos(math.radians(lat_deg))))
        half_width = half_width * (1.0 + _FILTER_REL_SLACK) + 1e-12
    lon_ranges, n_lon = _lon_ranges(qa[ROW_LON_RAD], half_width)
    per_deg = n_bands / 180.0  # as in layout()
    b0 = max(0, min(n_bands - 1, int(math.floor((lat_deg - window_deg + 90.0) * per_deg))))
    b1 = max(0, min(n_bands - 1, int(math.floor((lat_deg + window_deg + 90.0) * per_deg))))
    ranges = np.empty((2 * (b1 - b0 + 1), 2), np.int64)
    m = 0
    for b in range(b0, b1 + 1):
        seg0 = offsets[b]
        seg1 = offsets[b + 1]
        if seg1 == seg0:
            continue
        lons = pts[ROW_LON_RAD, seg0:seg1]
        for r in range(n_lon):
            start = seg0 + np.searchsorted(lons, lon_ranges[r, 0], side="left")
            stop = seg0 + np.searchsorted(lons, lon_ranges[r, 1], side="right")
            if stop > start:
                ranges[m, 0] = start
                ranges[m, 1] = stop
                m += 1
    limit_m = radius_m + BOUNDARY_SLACK_M
    return qa, ranges[:m], chord2_lo, chord2_hi, limit_m, close_call_m(limit_m)


@njit(cache=True)
def within_mask(pts, perm, offsets, lat_deg, lon_deg, radius_m):
    """(mask in table order of distance <= radius, number of unresolved rows).

    Unresolved rows (rare: nearly antipodal, or a close call at the limit) are False in
    the mask; the caller finds them with ``unresolved_rows`` and asks geographiclib.
    ``pts``/``perm``/``offsets`` come from :func:`layout`.
    """
    mask = np.zeros(pts.shape[1], np.bool_)
    qa, ranges, chord2_lo, chord2_hi, limit_m, close_m = _query(
        pts, offsets, lat_deg, lon_deg, radius_m
    )
    unresolved = 0
    for r in range(ranges.shape[0]):
        for k in range(ranges[r, 0], ranges[r, 1]):
            code = _pair_code(pts, k, qa, chord2_lo, chord2_hi, limit_m, close_m)
            if code == 1:
                mask[perm[k]] = True
            elif code < 0:
                unresolved += 1
    return mask, unresolved


@njit(cache=True)
def unresolved_rows(pts, perm, offsets, lat_deg, lon_deg, radius_m):
    """Table indices of the rows ``within_mask`` left unresolved."""
    qa, ranges, chord2_lo, chord2_hi, limit_m, close_m = _query(
        pts, offsets, lat_deg, lon_deg, radius_m
    )
    rows = np.empty(0, np.int64)
    count = 0
    for r in range(ranges.shape[0]):
        for k in range(ranges[r, 0], ranges[r, 1]):
            if _pair_code(pts, k, qa, chord2_lo, chord2_hi, limit_m, close_m) < 0:
                rows, count = _push(rows, count, perm[k])
    return rows[:count]


@njit(cache=True)
def distances_miles(pts, perm, lat_deg, lon_deg):
    """Vincenty miles from one point to every row, table order; NaN where not converged."""
    n = pts.shape[1]
    out = np.empty(n)
    _, _, _, _, lam, su, cu = point_row(lat_deg, lon_deg)
    for k in range(n):
        d_m = vincenty_m(su, cu, lam, pts[ROW_SIN_U, k], pts[ROW_COS_U, k], pts[ROW_LON_RAD, k])
        out[perm[k]] = d_m / METERS_PER_MILE
    return out


@njit(cache=True)
def beyond_matrix(pts, perm, radius_m):
    """(n, n) bool, table order: True where distance > radius; and unresolved pairs.

    ``pts``/``perm`` in latitude order (:func:`lat_sorted`).

    Unresolved pairs come back as an (m, 2) array of table indices, both cells True; the
    caller settles them with geographiclib.
    """
    n = pts.shape[1]
    out = np.ones((n, n), np.bool_)
    chord2_lo, chord2_hi, window_deg = filter_thresholds(radius_m)
    limit_m = radius_m + BOUNDARY_SLACK_M
    close_m = close_call_m(limit_m)
    lats = pts[ROW_LAT_DEG]
    qa = np.empty(N_ROWS)
    unresolved = np.empty(0, np.int64)
    count = 0
    for i in range(n):
        for t in range(N_ROWS):
            qa[t] = pts[t, i]
        pi = perm[i]
        lat_stop = lats[i] + window_deg
        for k in range(i, n):
            if lats[k] > lat_stop:
                break  # sorted by latitude: every later row is farther still
            code = _pair_code(pts, k, qa, chord2_lo, chord2_hi, limit_m, close_m)
            if code == 1:
                pk = perm[k]
                out[pi, pk] = False
                out[pk, pi] = False
            elif code < 0:
                unresolved, count = _push(unresolved, count, pi)
                unresolved, count = _push(unresolved, count, perm[k])
    return out, unresolved[:count].reshape((count // 2, 2))


@njit(cache=True)
def read_floor(pts):
    """Sum of the filter's arrays: the cost of merely reading them (benchmark floor)."""
    total = 0.0
    for t in range(3):
        for k in range(pts.shape[1]):
            total += pts[t, k]
    return total
