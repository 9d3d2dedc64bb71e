"""Exclusion zones: geodesic circles as GeoJSON polygons, exact enough to tell 89.9 from
90.1 miles anywhere, across the antimeridian and around the poles."""

from __future__ import annotations

import json

import pytest
from geographiclib.geodesic import Geodesic
from shapely.geometry import MultiPolygon, Point, shape

from passport.zones import exclusion_zone, zone_feature

MILE_M = 1609.344
WGS84 = Geodesic.WGS84


def _at(lat: float, lon: float, azimuth: float, miles: float) -> Point:
    out = WGS84.Direct(lat, lon, azimuth, miles * MILE_M)
    return Point(out["lon2"], out["lat2"])


@pytest.mark.parametrize(("lat", "lon"), [
    (45.5, -122.67),     # Portland
    (0.0, 0.0),
    (-33.87, 151.21),    # Sydney
    (64.84, -147.72),    # Fairbanks
    (-17.7, 179.5),      # Fiji: across the antimeridian
    (52.0, -179.9),      # Aleutians, the other side
    (89.2, 30.0),        # the North Pole inside the circle
    (-88.9, -60.0),      # the South Pole inside the circle
])
def test_just_inside_and_just_outside_the_radius(lat, lon):
    zone = exclusion_zone(lat, lon, 90.0)
    assert zone.is_valid
    for k in range(72):
        azimuth = 5.0 * k
        assert zone.covers(_at(lat, lon, azimuth, 89.9)), (lat, lon, azimuth)
        assert not zone.covers(_at(lat, lon, azimuth, 90.1)), (lat, lon, azimuth)
    assert zone.covers(Point(lon, lat))


def test_antimeridian_zone_is_split_and_pole_zone_reaches_the_pole():
    fiji = exclusion_zone(-17.7, 179.5, 90.0)
    assert isinstance(fiji, MultiPolygon) and len(fiji.geoms) == 2
    assert all(-180.0 <= x <= 180.0 for g in fiji.geoms for x, _ in g.exterior.coords)
    north = exclusion_zone(89.2, 30.0, 90.0)
    assert north.covers(Point(-150.0, 89.99)) and north.covers(Point(0.0, 90.0))


def test_other_radii_and_tolerance():
    for miles in (15.0, 50.0, 250.0):
        zone = exclusion_zone(40.0, -100.0, miles)
        assert zone.covers(_at(40.0, -100.0, 33.0, miles - 0.1))
        assert not zone.covers(_at(40.0, -100.0, 33.0, miles + 0.1))
    coarse = exclusion_zone(40.0, -100.0, 90.0, tolerance_miles=2.0)
    fine = exclusion_zone(40.0, -100.0, 90.0)
    assert len(coarse.exterior.coords) < len(fine.exterior.coords)


@pytest.mark.parametrize(("args", "message"), [
    ((91.0, 0.0, 90.0), "is not a point"),
    ((0.0, 0.0, 0.0), "radius_miles"),
])
def test_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        exclusion_zone(*args)


def test_feature_is_geojson():
    feature = json.loads(json.dumps(zone_feature(45.5, -122.67, 90.0, "home")))
    assert feature["properties"] == {"kind": "exclusion", "center": "home", "radius_miles": 90.0}
    assert shape(feature["geometry"]).covers(_at(45.5, -122.67, 10.0, 89.9))
