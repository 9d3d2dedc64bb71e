"""The public planner API: GET /api/v1/plan (JSON or GeoJSON), /api/v1/plan.geojson and
/api/v1/sites; no token, rate-limited per address, cacheable by list version; every real
response validated against kiosk/openapi.yaml."""

from __future__ import annotations

import gzip

import pytest
from geographiclib.geodesic import Geodesic
from openapi_schema_validator import OAS31Validator
from shapely.geometry import Point, shape
from test_api import SPEC, assert_error

from passport import admission, institutions

OMSI = "oregon-museum-of-science-and-industry-portland"
CHABOT = "chabot-space-science-center-oakland"
ADLER = "adler-planetarium-chicago"
GEOJSON = "application/geo+json"
MILE_M = 1609.344


def assert_valid(response, path: str, media: str = "application/json") -> dict:
    """The response's body is valid against the spec for its path and status."""
    assert response.is_json, response.data[:200]
    responses = SPEC["paths"][path]["get"]["responses"]
    answer = responses[str(response.status_code)]
    if "$ref" in answer:
        answer = SPEC["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    schema = answer["content"][media]["schema"]
    OAS31Validator({**schema, "components": SPEC["components"]}).validate(response.json)
    return response.json


@pytest.fixture
def listed(db, shipped_csv):
    institutions.import_file(db, shipped_csv)
    return db


def test_plan_is_public_and_valid(kiosk_client, listed):
    response = kiosk_client.get(f"/api/v1/plan?home={OMSI}&postal=97214&country=US"
                                f"&near_place=Chicago&site={ADLER}&limit=10")
    assert response.status_code == 200
    body = assert_valid(response, "/plan")
    assert body["home"]["id"] == OMSI and body["residence"]["postal_code"] == "97214"
    assert body["near"]["label"] == "Chicago, IL, US" and len(body["eligible"]) == 10
    assert body["eligible"][0]["city"] == "Chicago"
    assert body["site"]["id"] == ADLER and body["site"]["admit"] is True
    assert body["site"]["text"].startswith("Yes: you can visit Adler Planetarium")
    assert all(entry["why"] for entry in body["ineligible"])


def test_every_site_as_passport_check_decides(kiosk_client, listed):
    """The JSON over HTTP (floats through JSON) equals the check of every site."""
    for home, query in ((OMSI, "&postal=97214&country=US"), (CHABOT, ""),
                        ("science-north-sudbury", "&place=Markham,+ON")):
        body = kiosk_client.get(f"/api/v1/plan?home={home}{query}").json
        residence = {"postal": "97214", "country": "US"} if "postal" in query else (
            {"residence_place": "Markham, ON"} if "place" in query else {})
        for admit, entries in ((True, body["eligible"]), (False, body["ineligible"])):
            for entry in entries:
                check = admission.check(listed, entry["id"], home=home, **residence)
                assert (check.admit, check.reasons) == (admit, entry["reasons"]), entry["id"]
                assert check.home_distance_miles == pytest.approx(
                    entry["home_distance_miles"], abs=1e-9)


def test_geojson_by_accept_and_by_path(kiosk_client, listed):
    by_accept = kiosk_client.get(f"/api/v1/plan?home={OMSI}&postal=97214&country=US",
                                 headers={"Accept": GEOJSON})
    assert by_accept.mimetype == GEOJSON and "Accept" in by_accept.headers["Vary"]
    body = assert_valid(by_accept, "/plan", GEOJSON)
    by_path = kiosk_client.get(f"/api/v1/plan.geojson?home={OMSI}&postal=97214&country=US"
                               "&limit=3")
    assert by_path.mimetype == GEOJSON
    assert assert_valid(by_path, "/plan.geojson", GEOJSON) == body  # limit ignored: all sites
    kinds = [f["properties"]["kind"] for f in body["features"]]
    assert kinds[:3] == ["exclusion", "exclusion", "home"] and kinds.count("site") == 367
    assert kiosk_client.get(f"/api/v1/plan?home={OMSI}",
                            headers={"Accept": "*/*"}).mimetype == "application/json"


def test_home_zone_is_the_geodesic_circle(kiosk_client, listed):
    body = kiosk_client.get(f"/api/v1/plan.geojson?home={OMSI}").json
    zones = [f for f in body["features"] if f["properties"]["kind"] == "exclusion"]
    assert [z["properties"] for z in zones] == [
        {"kind": "exclusion", "center": "home", "radius_miles": 90.0}]  # no residence given
    zone = shape(zones[0]["geometry"])
    home = institutions.load_active(listed).by_id[OMSI]
    for azimuth in (0.0, 45.0, 137.0, 271.0):
        inside = Geodesic.WGS84.Direct(home["latitude"], home["longitude"], azimuth,
                                       89.9 * MILE_M)
        outside = Geodesic.WGS84.Direct(home["latitude"], home["longitude"], azimuth,
                                        90.1 * MILE_M)
        assert zone.covers(Point(inside["lon2"], inside["lat2"]))
        assert not zone.covers(Point(outside["lon2"], outside["lat2"]))


@pytest.mark.parametrize(("query", "status", "code", "named"), [
    ("", 400, "invalid_input", "'home' is required"),
    (f"home={OMSI}&bogus=1", 400, "invalid_input", "'bogus'"),
    (f"home={OMSI}&home={CHABOT}", 400, "invalid_input", "'home' was given 2 times"),
    (f"home={OMSI}&limit=x", 400, "invalid_input", "'limit'"),
    (f"home={OMSI}&near=1,2&near_place=Chicago", 400, "invalid_input", "near_place"),
    (f"home={OMSI}&near_place=Qqxzv", 400, "invalid_input", "near_place"),
    (f"home={OMSI}&benefit=cheap", 400, "invalid_input", "benefit"),
    (f"home={OMSI}&no_proof=maybe", 400, "invalid_input", "no_proof"),
    (f"home={OMSI}&postal=L0H+1J0&country=CA", 400, "invalid_input", "give a town"),
    ("home=no-such-museum", 404, "unknown_institution", "no-such-museum"),
    (f"home={OMSI}&site=no-such-site", 404, "unknown_institution", "no-such-site"),
])
def test_errors_name_the_parameter(kiosk_client, listed, query, status, code, named):
    for path in ("/plan", "/plan.geojson"):
        response = kiosk_client.get(f"/api/v1{path}?{query}")
        assert_error(response, status, code)
        assert named in response.json["error"]["message"]
        assert_valid(response, path)


def test_no_list_yet(kiosk_client):
    assert_error(kiosk_client.get(f"/api/v1/plan?home={OMSI}"), 503, "no_active_list")
    assert_error(kiosk_client.get("/api/v1/sites?q=omsi"), 503, "no_active_list")


def test_etag_304_and_cache_control(kiosk_client, listed, db, shipped_csv):
    url = f"/api/v1/plan?home={OMSI}&near_place=Chicago"
    first = kiosk_client.get(url)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"plan-1-') and first.headers["Cache-Control"] == (
        "public, max-age=300")
    again = kiosk_client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    other = kiosk_client.get(url + "&limit=5", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["ETag"] != etag  # another query
    geo = kiosk_client.get(url, headers={"If-None-Match": etag, "Accept": GEOJSON})
    assert geo.status_code == 200  # another kind of answer
    institutions.import_file(db, shipped_csv)  # a new list version
    newer = kiosk_client.get(url, headers={"If-None-Match": etag})
    assert newer.status_code == 200 and newer.headers["ETag"].startswith('W/"plan-2-')


def test_rate_limited_per_address(kiosk_app, listed):
    kiosk_app.config.update(PUBLIC_RATE_LIMIT=3, PUBLIC_RATE_WINDOW_SECONDS=60)
    client = kiosk_app.test_client()
    url = f"/api/v1/plan?home={OMSI}"
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(url, headers={"If-None-Match": "anything"})
    assert_error(refused, 429, "rate_limited")
    assert_valid(refused, "/plan")
    assert 1 <= int(refused.headers["Retry-After"]) <= 20
    assert "try again in" in refused.json["error"]["message"]
    assert client.get("/api/v1/sites?q=omsi").status_code == 429  # the same bucket
    other = client.get(url, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200  # another address has its own
    assert client.get("/api/v1/places?q=Mark").status_code == 200  # the typeahead is not


def test_sites_search_for_the_pickers(kiosk_client, listed):
    response = kiosk_client.get("/api/v1/sites?q=omsi")
    body = assert_valid(response, "/sites")
    assert body["sites"][0]["id"] == OMSI and body["list_version"] == 1
    assert len(kiosk_client.get("/api/v1/sites?q=science&limit=5").json["sites"]) == 5
    assert_error(kiosk_client.get("/api/v1/sites?q=x&limit=99"), 400, "invalid_input")


def test_gzip_when_the_client_accepts_it(kiosk_client, listed):
    url = f"/api/v1/plan?home={OMSI}"
    plain = kiosk_client.get(url)
    packed = kiosk_client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 4
    assert packed.headers["ETag"] == plain.headers["ETag"]  # weak: the same for both
    small = kiosk_client.get("/api/v1/sites?q=omsi", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers  # under a kilobyte: not worth it
