"""Offline geocoding: US ZIP centroids, clear errors elsewhere, time zones of points."""

from __future__ import annotations

import pytest

from passport.geocode import GeocodeError, geocode_postal, normalize_us_zip, timezone_at


@pytest.mark.parametrize("code, lat, lon", [
    ("99501", 61.22, -149.87),     # Anchorage
    ("94110", 37.75, -122.42),     # San Francisco
    ("00901", 18.47, -66.10),      # San Juan, Puerto Rico
    ("02114-1234", 42.36, -71.07),  # ZIP+4
    ("2114", 42.36, -71.07),       # leading zero lost by a spreadsheet
])
def test_us_zip_centroids(code, lat, lon):
    got_lat, got_lon = geocode_postal(code, "US")
    assert got_lat == pytest.approx(lat, abs=0.1) and got_lon == pytest.approx(lon, abs=0.1)


def test_country_names_accepted():
    assert geocode_postal("94110", "usa") == geocode_postal("94110", "US")


@pytest.mark.parametrize("code, country, message", [
    ("00000", "US", "cannot geocode postal code 00000 for country US"),
    ("ABCDE", "US", "is not a US ZIP code"),
    ("K1G 5A3", "CA", "cannot geocode postal code K1G 5A3 for country CA"),
    ("301 00", "CZ", "cannot geocode postal code 301 00 for country CZ"),
    ("", "US", "no postal code"),
])
def test_errors_name_code_and_country(code, country, message):
    with pytest.raises(GeocodeError, match=message):
        geocode_postal(code, country)


def test_normalize_us_zip():
    assert normalize_us_zip("12345-6789") == "12345"
    assert normalize_us_zip("123") == "00123"
    assert normalize_us_zip("12") is None


@pytest.mark.parametrize("lat, lon, zone", [
    (61.2163, -149.8872, "America/Anchorage"),
    (18.4238, -66.0749, "America/Puerto_Rico"),
    (31.7619, -106.485, "America/Denver"),      # El Paso: Texas but Mountain time
    (49.2733, -123.1038, "America/Vancouver"),
    (1.3332, 103.7356, "Asia/Singapore"),
])
def test_timezone_at(lat, lon, zone):
    assert timezone_at(lat, lon) == zone
