"""Property tests of the engine against geographiclib, the WGS84 reference.

Every decision must equal geographiclib's: "within r" means s12 <= r + 1 micrometre
(engine.distance explains the micrometre). Distances must agree to the stated accuracy,
0.1 mm. Distances are compared where the compiled Vincenty converges; where it does not,
the engine asks geographiclib, and tests/test_engine.py holds that path to geographiclib's
published reference values rather than to geographiclib itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine import METERS_PER_MILE, InstitutionTable, geodesic_miles, haversine_miles
from engine import _kernels as K
from engine.distance import GEODESIC_ACCURACY_M

WGS84 = Geodesic.WGS84
ACCURACY_MILES = GEODESIC_ACCURACY_M / METERS_PER_MILE
SLACK_M = K.BOUNDARY_SLACK_M

lats = st.floats(-90.0, 90.0, allow_nan=False)
lons = st.floats(-180.0, 180.0, allow_nan=False)
azimuths = st.floats(-180.0, 180.0, allow_nan=False)
near_radius_miles = st.floats(89.9, 90.1, allow_nan=False)
quick = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ref_m(lat1, lon1, lat2, lon2) -> float:
    return WGS84.Inverse(lat1, lon1, lat2, lon2, Geodesic.DISTANCE)["s12"]


def ref_within(lat1, lon1, lat2, lon2, miles) -> bool:
    return ref_m(lat1, lon1, lat2, lon2) <= miles * METERS_PER_MILE + SLACK_M


def place(lat, lon, azi, miles) -> tuple[float, float]:
    """The point ``miles`` from (lat, lon) along azimuth ``azi`` (geographiclib Direct)."""
    out = WGS84.Direct(lat, lon, azi, miles * METERS_PER_MILE)
    return out["lat2"], (out["lon2"] + 180.0) % 360.0 - 180.0


def star_table(lat, lon, spokes) -> InstitutionTable:
    """A table of the centre ``c`` and one point per (azimuth, miles) spoke."""
    ids = ["c"] + [f"p{k}" for k in range(len(spokes))]
    points = [(lat, lon)] + [place(lat, lon, azi, miles) for azi, miles in spokes]
    return InstitutionTable.from_arrays(ids, [p[0] for p in points], [p[1] for p in points])


def assert_all_decisions_exact(table: InstitutionTable, lat, lon, miles=90.0) -> None:
    """within(), the pairwise matrix and the point decision all equal geographiclib's."""
    mask = table.within(lat, lon, miles)
    for i, ident in enumerate(table.ids):
        la, lo = table.lat_deg[i], table.lon_deg[i]
        expected = ref_within(lat, lon, la, lo, miles)
        assert mask[i] == expected, (ident, ref_m(lat, lon, la, lo) / METERS_PER_MILE)
        d, beyond = table.distance_and_beyond_from_point(lat, lon, ident, miles)
        assert beyond == (not expected)
        assert abs(d - ref_m(lat, lon, la, lo) / METERS_PER_MILE) <= ACCURACY_MILES
    lats_deg, lons_deg = table.lat_deg, table.lon_deg
    for i, a in enumerate(table.ids):
        for j, b in enumerate(table.ids):
            expected = not ref_within(lats_deg[i], lons_deg[i], lats_deg[j], lons_deg[j],
                                      table.radius_miles)
            assert table.beyond(a, b) == expected, (a, b)


def antipode_gap_deg(lat1, lon1, lat2, lon2) -> float:
    """How far the second point is from the first one's antipode, in degrees of arc."""
    central = haversine_miles(lat1, lon1, lat2, lon2) * METERS_PER_MILE / K.EARTH_MEAN_RADIUS_M
    return 180.0 - math.degrees(central)


def assert_vincenty_within_accuracy(lat1, lon1, lat2, lon2) -> None:
    """The compiled kernel is within 0.1 mm of geographiclib, or gives up (NaN) on a nearly
    antipodal pair; geodesic_miles returns the kernel's answer where there is one."""
    d = K.geodesic_miles_or_flag(lat1, lon1, lat2, lon2)
    if math.isnan(d):
        assert antipode_gap_deg(lat1, lon1, lat2, lon2) < 1.0
        return
    assert abs(d - ref_m(lat1, lon1, lat2, lon2) / METERS_PER_MILE) <= ACCURACY_MILES
    assert geodesic_miles(lat1, lon1, lat2, lon2) == d


@quick
@given(lats, lons, lats, lons)
@example(0.0, 0.0, 0.0, 180.0)  # exactly antipodal on the equator: Vincenty gives up
@example(0.5, 0.0, -0.5, 179.7)  # nearly antipodal
@example(90.0, 0.0, -90.0, 0.0)  # pole to pole
@example(10.0, 20.0, 10.0, 20.0)  # identical points
@example(14.425821235874821, 7.1893843626877185, -14.338971726109449, -172.138723726722)
def test_vincenty_within_accuracy_of_geographiclib(lat1, lon1, lat2, lon2):
    assert_vincenty_within_accuracy(lat1, lon1, lat2, lon2)


@quick
@given(lats, lons, st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_vincenty_within_accuracy_near_the_antipode(lat1, lon1, dlat, dlon):
    """Vincenty's largest errors are near the antipode, where it converges slowly."""
    lat2 = min(90.0, max(-90.0, -lat1 + dlat))
    lon2 = math.remainder(lon1 + 180.0 + dlon, 360.0)
    assert_vincenty_within_accuracy(lat1, lon1, lat2, lon2)


@quick
@given(lats, lons, st.lists(st.tuples(azimuths, near_radius_miles), min_size=1, max_size=12))
def test_pairs_placed_near_90_miles_decided_exactly(lat, lon, spokes):
    assert_all_decisions_exact(star_table(lat, lon, spokes), lat, lon)


@quick
@given(lats, lons, st.lists(azimuths, min_size=1, max_size=8))
def test_exactly_90_miles_is_within(lat, lon, azis):
    table = star_table(lat, lon, [(azi, 90.0) for azi in azis])
    mask = table.within(lat, lon, 90.0)
    assert mask.all()
    for ident in table.ids[1:]:
        d, beyond = table.distance_and_beyond_from_point(lat, lon, ident, 90.0)
        assert abs(d - 90.0) <= 1e-9
        assert not beyond
        assert not table.beyond("c", ident)
    assert table.eligible_from("c") == []


@quick
@given(st.floats(-60.0, 60.0), st.floats(179.0, 180.0), st.booleans(),
       st.lists(st.tuples(azimuths, near_radius_miles), min_size=1, max_size=8))
def test_antimeridian(lat, lon, west, spokes):
    lon = -lon if west else lon
    assert_all_decisions_exact(star_table(lat, lon, spokes), lat, lon)


@quick
@given(st.floats(88.5, 90.0), lons, st.booleans(),
       st.lists(st.tuples(azimuths, near_radius_miles), min_size=1, max_size=8))
def test_near_the_poles(lat, lon, south, spokes):
    lat = -lat if south else lat
    assert_all_decisions_exact(star_table(lat, lon, spokes), lat, lon)


@quick
@given(lats, lons, st.floats(0.0, 500.0))
def test_identical_points(lat, lon, miles):
    assert geodesic_miles(lat, lon, lat, lon) == 0.0
    assert haversine_miles(lat, lon, lat, lon) == 0.0
    table = InstitutionTable.from_arrays(["a", "b"], [lat, lat], [lon, lon], radius_miles=miles)
    assert table.within(lat, lon, miles).all()
    assert not table.beyond("a", "b")


@quick
@given(lats, lons, azimuths, st.floats(1.0, 12_000.0))
def test_random_radius_decided_exactly(lat, lon, azi, miles):
    # The second point sits at the radius give or take a few hundredths of a per cent.
    lat2, lon2 = place(lat, lon, azi, miles * 1.0003)
    table = InstitutionTable.from_arrays(["a", "b"], [lat, lat2], [lon, lon2], radius_miles=miles)
    assert_all_decisions_exact(table, lat, lon, miles)


def test_band_bound_holds_empirically():
    """M_min * theta <= geodesic <= c * theta, theta the unit-sphere angle (the band)."""
    rng = np.random.default_rng(20260101)
    ratios = []
    for _ in range(20_000):
        lat, lon = rng.uniform(-90, 90), rng.uniform(-180, 180)
        miles = rng.choice([rng.uniform(85.0, 95.0), rng.uniform(0.1, 12_000.0)])
        lat2, lon2 = place(lat, lon, rng.uniform(-180, 180), miles)
        theta = haversine_miles(lat, lon, lat2, lon2) * METERS_PER_MILE / K.EARTH_MEAN_RADIUS_M
        ratios.append(miles * METERS_PER_MILE / theta)
    assert min(ratios) >= K.MIN_CURVATURE_RADIUS_M
    assert max(ratios) <= K.MAX_CURVATURE_RADIUS_M
    # And the band is not loose: real pairs come close to both edges.
    assert min(ratios) < K.MIN_CURVATURE_RADIUS_M * 1.0005
    assert max(ratios) > K.MAX_CURVATURE_RADIUS_M * 0.9995


@pytest.mark.parametrize("miles", [0.0, 1e-6, 1.0, 90.0, 1000.0, 12_500.0])
def test_filter_thresholds_bracket_the_band(miles):
    chord2_lo, chord2_hi, window_deg = K.filter_thresholds(miles * METERS_PER_MILE)
    theta_lo = 2 * math.asin(math.sqrt(chord2_lo) / 2)
    assert theta_lo * K.MAX_CURVATURE_RADIUS_M <= miles * METERS_PER_MILE
    if chord2_hi <= 4.0:
        theta_hi = 2 * math.asin(math.sqrt(chord2_hi) / 2)
        assert theta_hi * K.MIN_CURVATURE_RADIUS_M >= miles * METERS_PER_MILE + SLACK_M
        assert math.radians(window_deg) >= theta_hi
