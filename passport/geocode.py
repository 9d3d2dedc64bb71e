"""Offline geocoding of postal codes, time zones of coordinates, and an opt-in online geocoder.

The front desk never needs the network: US ZIP codes (incl. Puerto Rico and the other
territories) resolve to their centroid through the ``zipcodes`` package, which ships the
USPS/Census table. A ZIP centroid is typically within a few miles of any address in it
(rural ZIPs: up to ~20 miles), good enough for the residence rule at a 90-mile radius, and
staff can still ask for proof of residence.

``geocode_postal`` (a participant-list row) covers US ZIP codes only: a site needs its own
coordinates. ``locate_residence_postal`` (a member's residence) also places Canadian postal
codes by their first three characters, the forward sortation area (FSA), through the
``pypostalcode`` package (1,645 FSA centroids from Statistics Canada's 2011 FSA boundary
file, Canada Post data used with permission, GeoNames CC BY 4.0). An urban FSA is a few
miles across; a rural one (a 0 as its second character, e.g. P0M) can span hundreds of
miles, so it is not used to place anyone: the residence is then "not located" and the desk
asks for the member's town (``passport.places``).

``geocode_address_online`` (geopy, OpenStreetMap Nominatim) is an explicit admin opt-in
(``passport geocode --address ... --online``) and is never called by the check-in path.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass

US_ZIP_PATTERN = re.compile(r"^(\d{5})(?:[- ]?\d{4})?$")
# A Canadian postal code (A1A 1A1), or its forward sortation area alone (A1A).
CA_POSTAL_PATTERN = re.compile(r"^([A-Z]\d[A-Z])(?:[ -]?(\d[A-Z]\d))?$")
# Elsewhere: what a card may carry (letters, digits, spaces, hyphens; 1-12 characters).
OTHER_POSTAL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9 -]{0,11}$")

_tz_lock = threading.Lock()


class GeocodeError(ValueError):
    """A postal code or address cannot be turned into coordinates."""


class PostalFormatError(GeocodeError):
    """A postal code is not written as its country writes them, or the country is unknown."""


@dataclass(frozen=True)
class PostalArea:
    """Where a residence's postal code is: the centre of its area, and the area's name."""

    code: str  # as written on mail: ``94110``, ``L3P 3J3``
    country: str
    lat_deg: float
    lon_deg: float
    area: str  # ``San Francisco, CA``, ``Markham Central, ON``


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


def normalize_postal(code: str, country: str) -> tuple[str, str]:
    """``(code, country)`` as written on mail (``L3P3J3``, ``ca`` -> ``L3P 3J3``, ``CA``; a
    ZIP+4 -> its 5-digit ZIP); ``PostalFormatError`` naming the code when it is not a postal
    code of that country, or the country is not an ISO 3166 two-letter code."""
    country_code = normalize_country(country)
    text = " ".join(str(code or "").upper().split())
    if country_code not in iso_country_codes():
        raise PostalFormatError(f"country {country!r} is not a two-letter ISO 3166 code "
                                "(e.g. US, CA)")
    if not text:
        raise PostalFormatError(f"no postal code given for country {country_code}")
    if country_code == "US":
        zip5 = normalize_us_zip(text)
        if zip5 is None:
            raise PostalFormatError(f"'{text}' is not a US ZIP code (expected 5 digits)")
        return zip5, country_code
    if country_code == "CA":
        match = CA_POSTAL_PATTERN.match(text)
        if match is None:
            raise PostalFormatError(f"'{text}' is not a Canadian postal code (A1A 1A1)")
        return " ".join(part for part in match.groups() if part), country_code
    if OTHER_POSTAL_PATTERN.match(text) is None:
        raise PostalFormatError(f"'{text}' is not a postal code (letters, digits, spaces "
                                "and hyphens, at most 12)")
    return text, country_code


def locate_residence_postal(code: str, country: str) -> PostalArea:
    """Where a member's postal code is, offline: a US ZIP code's centroid, or a Canadian
    urban forward sortation area's.

    Raises ``PostalFormatError`` when the code is not a postal code of its country, and
    ``GeocodeError`` saying why when no offline table places it (another country, an
    unknown code, a rural Canadian area too wide to stand for one place).
    """
    text, country_code = normalize_postal(code, country)
    if country_code == "US":
        found = _us_zip_place(text)
        if found is None:
            raise GeocodeError(f"unknown US ZIP code {text}")
        return PostalArea(text, country_code, *found)
    if country_code == "CA":
        return PostalArea(text, country_code, *_ca_fsa_place(text[:3]))
    raise GeocodeError(f"no offline postal-code table for country {country_code}")


@functools.lru_cache(maxsize=4096)
def _us_zip_place(zip5: str) -> tuple[float, float, str] | None:
    import zipcodes

    matches = zipcodes.matching(zip5)
    if not matches:
        return None
    row = matches[0]
    return float(row["lat"]), float(row["long"]), f"{row['city']}, {row['state']}"


# pypostalcode's province spellings -> postal abbreviations
_CA_PROVINCE_CODES = {
    "Alberta": "AB", "British Columbia": "BC", "Manitoba": "MB", "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL", "Nova Scotia": "NS", "Ontario": "ON",
    "Prince Edward Island": "PE", "Quebec": "QC", "Saskatchewan": "SK", "Yukon": "YT",
    "Northwest Territory": "NT", "Nunavut Territory": "NU",
}


@functools.cache  # at most 26 * 10 * 26 well-formed areas; errors are not kept
def _ca_fsa_place(fsa: str) -> tuple[float, float, str]:
    """(lat, lon, area name) of an urban forward sortation area; GeocodeError otherwise."""
    if fsa[1] == "0":  # also H0H, Santa Claus's, at the North Pole
        raise GeocodeError(f"{fsa} is a rural postal area, too wide to stand for one place")
    from pypostalcode import PostalCodeDatabase

    rows = PostalCodeDatabase().get(fsa)
    if not rows:
        raise GeocodeError(f"unknown Canadian postal area {fsa}")
    row = rows[0]
    region = _CA_PROVINCE_CODES.get(row.province, row.province)
    return float(row.latitude), float(row.longitude), f"{row.city}, {region}"


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
