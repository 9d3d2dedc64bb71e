"""Offline geocoding of postal codes, time zones of coordinates, and an opt-in online geocoder.

The front desk never needs the network: US ZIP codes (incl. Puerto Rico and the other
territories) resolve to their centroid through the ``zipcodes`` package, which ships the
USPS/Census table. Other countries have no offline table here, so they fail with a clear
"cannot geocode postal code X for country Y". A ZIP centroid is typically within a few
miles of any address in it (rural ZIPs: up to ~20 miles), good enough for the residence rule
at a 90-mile radius, and staff can still ask for proof of residence.

``geocode_address_online`` (geopy, OpenStreetMap Nominatim) is an explicit admin opt-in
(``passport geocode --address ... --online``) and is never called by the check-in path.
"""

from __future__ import annotations

import functools
import re
import threading

US_ZIP_PATTERN = re.compile(r"^(\d{5})(?:[- ]?\d{4})?$")

_tz_lock = threading.Lock()


class GeocodeError(ValueError):
    """A postal code or address cannot be turned into coordinates."""


def normalize_country(country: str | None) -> str:
    """ISO 3166-1 alpha-2 code in upper case; a few spelled-out names are accepted."""
    text = (country or "").strip().upper()
    return {"USA": "US", "U.S.": "US", "U.S.A.": "US", "UNITED STATES": "US",
            "CAN": "CA", "CANADA": "CA"}.get(text, text)


# Codes people write that are not ISO 3166-1 alpha-2, with the code they mean.
COUNTRY_CODE_MISTAKES = {"UK": "GB", "EL": "GR"}


@functools.cache
def iso_country_codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code, from the ``iso3166.tab`` that the tzdata package ships
    (offline, kept current with the IANA time zone database)."""
    from importlib.resources import files

    text = files("tzdata").joinpath("zoneinfo", "iso3166.tab").read_text(encoding="utf-8")
    return frozenset(line[:2] for line in text.splitlines() if line and not line.startswith("#"))


def normalize_us_zip(code: str) -> str | None:
    """The 5-digit ZIP of ``code`` (ZIP+4 accepted; Excel's dropped leading zeros restored)."""
    text = str(code).strip()
    if text.isdigit() and 3 <= len(text) < 5:
        text = text.zfill(5)
    match = US_ZIP_PATTERN.match(text)
    return match.group(1) if match else None


def geocode_postal(code: str, country: str) -> tuple[float, float]:
    """``(lat_deg, lon_deg)`` of a postal code's centroid, offline.

    Raises ``GeocodeError`` naming the code and country when no offline data covers it.
    """
    country_code = normalize_country(country)
    text = str(code or "").strip()
    if not text:
        raise GeocodeError(f"no postal code given for country {country_code or '?'}")
    if country_code == "US":
        zip5 = normalize_us_zip(text)
        if zip5 is None:
            raise GeocodeError(f"'{text}' is not a US ZIP code (expected 5 digits)")
        centroid = _us_zip_centroid(zip5)
        if centroid is None:
            raise GeocodeError(f"cannot geocode postal code {text} for country US (unknown ZIP)")
        return centroid
    raise GeocodeError(
        f"cannot geocode postal code {text} for country {country_code or '?'} "
        "(offline data covers US ZIP codes only; give latitude/longitude instead)"
    )


@functools.lru_cache(maxsize=4096)
def _us_zip_centroid(zip5: str) -> tuple[float, float] | None:
    # zipcodes scans its whole table on every lookup; a desk sees the same ZIPs again and again.
    import zipcodes

    matches = zipcodes.matching(zip5)
    return (float(matches[0]["lat"]), float(matches[0]["long"])) if matches else None


@functools.cache
def _timezone_finder():
    # Loading the boundary data is slow, so it happens once, on first use.
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


def timezone_at(lat_deg: float, lon_deg: float) -> str | None:
    """IANA time zone name at a point (offline, timezonefinder's boundary data), or None."""
    with _tz_lock:
        finder = _timezone_finder()
        return finder.timezone_at(lat=float(lat_deg), lng=float(lon_deg))


def geocode_address_online(
    address: str, *, user_agent: str = "passport-checkin-admin", timeout_s: float = 10.0,
    domain: str = "nominatim.openstreetmap.org", scheme: str = "https",
) -> tuple[float, float]:
    """Admin opt-in: geocode a street address online with OpenStreetMap Nominatim via geopy.

    Never used at the front desk (``passport geocode --address ... --online`` is the only
    caller). ``domain``/``scheme`` name another Nominatim server (the tests run one on
    loopback). Raises ``GeocodeError`` when nothing is found or the service cannot be reached.
    """
    from geopy.exc import GeopyError
    from geopy.geocoders import Nominatim

    try:
        geocoder = Nominatim(user_agent=user_agent, timeout=timeout_s, domain=domain,
                             scheme=scheme)
        location = geocoder.geocode(address)
    except GeopyError as exc:
        raise GeocodeError(f"online geocoder failed for {address!r}: {exc}") from exc
    if location is None:
        raise GeocodeError(f"online geocoder found nothing for {address!r}")
    return float(location.latitude), float(location.longitude)
