"""InstitutionTable on the shipped list, the public API's checks, and warm-up."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic

import engine
from engine import METERS_PER_MILE, InstitutionTable, TableError, geodesic_miles, haversine_miles
from engine import _kernels as K

WGS84 = Geodesic.WGS84


@pytest.fixture(scope="module")
def records(shipped_csv):
    with open(shipped_csv, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def table(records):
    return InstitutionTable.from_records(records)


@pytest.fixture(scope="module")
def ref_miles(table):
    """All-pairs geographiclib distances in miles, table order."""
    lat, lon = table._lat, table._lon
    n = len(table)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            s12 = WGS84.Inverse(lat[i], lon[i], lat[j], lon[j], Geodesic.DISTANCE)["s12"]
            out[i, j] = out[j, i] = s12 / METERS_PER_MILE
    return out


def ref_within(ref_miles_array, miles):
    return ref_miles_array * METERS_PER_MILE <= miles * METERS_PER_MILE + K.BOUNDARY_SLACK_M


def test_shipped_list_loads(table, records):
    assert len(table) == len(records) == 368
    assert table.ids == tuple(r["id"] for r in records)
    assert table.radius_miles == 90.0
    assert table.index_of(records[5]["id"]) == 5


def test_matrix_equals_pairwise_exact_decisions(table, ref_miles):
    expected = ~ref_within(ref_miles, 90.0)
    ids = table.ids
    got = np.array([[table.beyond(a, b) for b in ids] for a in ids])
    assert (got == expected).all()
    assert np.array_equal(table._matrix, expected)
    # The list really exercises the boundary: some pairs sit in the ambiguity band.
    in_band = (ref_miles > 90.0 * K.MIN_CURVATURE_RADIUS_M / K.EARTH_MEAN_RADIUS_M) & (
        ref_miles < 90.0 * K.MAX_CURVATURE_RADIUS_M / K.EARTH_MEAN_RADIUS_M
    )
    assert in_band.sum() > 0


@pytest.mark.parametrize("miles", [0.0, 25.0, 60.0, 90.0, 150.0, 1000.0])
def test_within_matches_geodesic_for_every_row(table, ref_miles, miles):
    expected = ref_within(ref_miles, miles)
    for i in range(len(table)):
        mask = table.within(table._lat[i], table._lon[i], miles)
        assert np.array_equal(mask, expected[i]), table.ids[i]


def test_within_at_a_real_pair_distance_is_exact(table, ref_miles):
    # Radius equal to a real pair's distance (to the nanometre): the close-call path.
    i, j = 3, int(np.argsort(ref_miles[3])[5])
    miles = ref_miles[i, j]
    t = InstitutionTable.from_records(
        [{"id": a, "latitude": la, "longitude": lo}
         for a, la, lo in zip(table.ids, table._lat, table._lon, strict=True)],
        radius_miles=miles,
    )
    expected = ref_within(ref_miles, miles)
    assert t.within(t._lat[i], t._lon[i], miles)[j]
    assert np.array_equal(t._matrix, ~expected)


def test_distances_from_within_a_millimetre(table, ref_miles):
    for i in (0, 100, 367):
        got = table.distances_from(table._lat[i], table._lon[i])
        assert np.abs(got - ref_miles[i]).max() <= 1e-3 / METERS_PER_MILE


def test_eligible_from_agrees_with_geodesic(table, ref_miles):
    for home in range(0, len(table), 17):
        got = table.eligible_from(table.ids[home])
        beyond = ~ref_within(ref_miles[home], 90.0)
        beyond[home] = False
        assert set(got) == {table.ids[k] for k in np.flatnonzero(beyond)}
        dists = [ref_miles[home, table.index_of(x)] for x in got]
        assert dists == sorted(dists)


def test_eligible_from_with_residence_and_other_radius(table, ref_miles):
    home, res = 10, 200
    residence = (table._lat[res], table._lon[res])
    for miles in (90.0, 50.0):
        got = table.eligible_from(table.ids[home], residence=residence, miles=miles)
        ok = ~ref_within(ref_miles[home], miles) & ~ref_within(ref_miles[res], miles)
        ok[home] = False
        assert set(got) == {table.ids[k] for k in np.flatnonzero(ok)}
        assert table.ids[res] not in got


def test_near_is_nearest_first(table, ref_miles):
    got = table.near(table._lat[42], table._lon[42], limit=5)
    order = np.argsort(ref_miles[42], kind="stable")[:5]
    assert [x[0] for x in got] == [table.ids[k] for k in order]
    assert got[0] == (table.ids[42], 0.0)
    assert table.near(0.0, 0.0, limit=0) == []


def test_distance_between_and_point_decision(table, ref_miles):
    a, b = table.ids[7], table.ids[300]
    assert math.isclose(table.distance_between(a, b), ref_miles[7, 300], abs_tol=1e-6)
    d, beyond = table.distance_and_beyond_from_point(table._lat[7], table._lon[7], b, 90.0)
    assert math.isclose(d, ref_miles[7, 300], abs_tol=1e-6)
    assert beyond == (ref_miles[7, 300] > 90.0)
    assert table.distance_and_beyond_from_point(table._lat[7], table._lon[7], b) == (d, beyond)


def test_scalar_functions():
    d = geodesic_miles(40.0, -75.0, 41.0, -74.0)
    ref = WGS84.Inverse(40.0, -75.0, 41.0, -74.0)["s12"] / METERS_PER_MILE
    assert abs(d - ref) < 1e-9
    assert geodesic_miles(40, -75, 41, -74) == d  # ints are fine
    assert geodesic_miles(np.float64(40.0), -75.0, 41.0, -74.0) == d
    h = haversine_miles(40.0, -75.0, 41.0, -74.0)
    assert abs(h - d) / d < 0.006
    assert isinstance(d, float) and isinstance(h, float)


def test_table_is_immutable(table):
    with pytest.raises(AttributeError):
        table.foo = 1
    with pytest.raises(ValueError):
        table._lat[0] = 0.0


def test_warm_up_returns_seconds():
    seconds = engine.warm_up()
    assert 0.0 <= seconds < 60.0


# -- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [geodesic_miles, haversine_miles])
@pytest.mark.parametrize(
    "args, named",
    [
        ((math.nan, 0.0, 1.0, 1.0), "nan"),
        ((0.0, 0.0, 90.5, 1.0), "90.5"),
        ((0.0, -180.1, 1.0, 1.0), "-180.1"),
        ((0.0, 0.0, 1.0, math.inf), "inf"),
        (("x", 0.0, 1.0, 1.0), "'x'"),
        ((None, 0.0, 1.0, 1.0), "None"),
    ],
)
def test_scalar_bad_coordinates(fn, args, named):
    with pytest.raises(ValueError, match=named):
        fn(*args)


def _rec(ident, lat, lon):
    return {"id": ident, "latitude": lat, "longitude": lon, "name": "ignored"}


@pytest.mark.parametrize(
    "records, named",
    [
        ([], "empty"),
        ([_rec("a", 1.0, 1.0), _rec("a", 2.0, 2.0)], "'a'"),
        ([_rec("a", 1.0, 1.0), _rec("b", math.nan, 2.0)], "'b'.*nan"),
        ([_rec("a", 91.0, 1.0)], "91.0"),
        ([_rec("a", 1.0, "200")], "'200'"),
        ([_rec("a", 1.0, "east")], "'east'"),
        ([_rec("", 1.0, 1.0)], "''"),
        ([_rec(7, 1.0, 1.0)], "7"),
        ([{"id": "a", "latitude": 1.0}], "longitude"),
    ],
)
def test_bad_records(records, named):
    with pytest.raises(ValueError, match=named):
        InstitutionTable.from_records(records)
    assert issubclass(TableError, ValueError)


def test_numeric_strings_are_accepted():
    t = InstitutionTable.from_records([_rec("a", "40.5", "-74.25")])
    assert t.distance_between("a", "a") == 0.0


def test_bad_radius():
    with pytest.raises(ValueError, match="-1"):
        InstitutionTable.from_records([_rec("a", 1.0, 1.0)], radius_miles=-1)


def test_unknown_ids_name_the_id(table):
    known = table.ids[0]
    for call in (
        lambda: table.index_of("nowhere-museum"),
        lambda: table.beyond(known, "nowhere-museum"),
        lambda: table.beyond("nowhere-museum", known),
        lambda: table.distance_between("nowhere-museum", known),
        lambda: table.eligible_from("nowhere-museum"),
        lambda: table.distance_and_beyond_from_point(1.0, 1.0, "nowhere-museum"),
    ):
        with pytest.raises(KeyError, match="nowhere-museum"):
            call()


@pytest.mark.parametrize(
    "args, named",
    [((math.nan, 0.0), "nan"), ((0.0, 181.0), "181.0"), ((0.0, 0.0, -5.0), "-5.0"),
     ((0.0, 0.0, math.nan), "nan"), (("a", 0.0), "'a'")],
)
def test_within_bad_input(table, args, named):
    with pytest.raises(ValueError, match=named):
        table.within(*args)


def test_other_bad_queries(table):
    with pytest.raises(ValueError, match="residence"):
        table.eligible_from(table.ids[0], residence=(1.0,))
    with pytest.raises(ValueError, match="95"):
        table.eligible_from(table.ids[0], residence=(95.0, 0.0))
    with pytest.raises(ValueError, match="-1"):
        table.near(0.0, 0.0, limit=-1)
    with pytest.raises(ValueError, match="nan"):
        table.distances_from(math.nan, 0.0)
    with pytest.raises(ValueError, match="nan"):
        table.distance_and_beyond_from_point(0.0, 0.0, table.ids[0], math.nan)


def test_band_layout_prunes_nothing_it_should_keep():
    """within() on a big table (720 latitude bands) equals a full scan of exact distances."""
    rng = np.random.default_rng(7)
    n = 60_000
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))  # uniform on the sphere
    lon = rng.uniform(-180, 180, n)
    # Crowd the awkward places: the poles and the antimeridian.
    lat[:2000] = rng.uniform(87.0, 90.0, 2000) * rng.choice([-1, 1], 2000)
    lon[2000:4000] = rng.uniform(178.5, 180.0, 2000) * rng.choice([-1, 1], 2000)
    lat[4000], lon[4000] = 90.0, 0.0
    lat[4001], lon[4001] = -90.0, 180.0
    table = InstitutionTable.from_arrays([str(k) for k in range(n)], lat, lon)
    assert K.band_count(n) == K.MAX_BANDS
    queries = [(90.0, 0.0), (-89.5, 33.0), (0.0, 180.0), (12.0, -179.9), (-45.0, 179.99),
               (88.0, -180.0), (40.7, -74.0), (-89.99, -180.0)]
    queries += [(float(lat[k]), float(lon[k])) for k in rng.integers(0, n, 12)]
    for q_lat, q_lon in queries:
        exact = table.distances_from(q_lat, q_lon)
        for miles in (90.0, 400.0, 3000.0, 9000.0):
            assert np.array_equal(table.within(q_lat, q_lon, miles), exact <= miles), (
                q_lat, q_lon, miles)


def test_eligible_ties_in_id_order():
    recs = [_rec("home", 0.0, 0.0), _rec("zeta", 10.0, 10.0), _rec("alpha", 10.0, 10.0),
            _rec("mid", 5.0, 5.0), _rec("near", 0.5, 0.5)]
    table = InstitutionTable.from_records(recs)
    assert table.eligible_from("home") == ["mid", "alpha", "zeta"]
