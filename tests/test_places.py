"""The offline gazetteer (passport.places), Canadian postal areas (passport.geocode) and the
public ``GET /api/v1/places``, validated against kiosk/openapi.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from openapi_schema_validator import OAS31Validator

import kiosk
from passport import geocode, places

SPEC = yaml.safe_load((Path(kiosk.__file__).parent / "openapi.yaml").read_text())


def label(text: str, **kwargs) -> str:
    return places.lookup(text, **kwargs).label


# -- lookups ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["Montréal", "Montreal", "MONTREAL", "montreal, qc",
                                  "Montreal, Quebec", "Montréal, Canada", "Montreal, CA"])
def test_accents_and_case_do_not_matter(text):
    assert label(text) == "Montréal, QC, CA"


@pytest.mark.parametrize("text, expected", [
    ("Markham", "Markham, ON, CA"),               # the most populous Markham
    ("Markham, ON", "Markham, ON, CA"),
    ("Markham, ON, CA", "Markham, ON, CA"),
    ("markham, ontario", "Markham, ON, CA"),
    ("Markham, IL", "Markham, IL, US"),           # narrowed by the state
    ("Markham, Illinois, US", "Markham, IL, US"),
    ("London", "London, ENG, GB"),
    ("London, ON", "London, ON, CA"),             # province abbreviation
    ("Portland", "Portland, OR, US"),
    ("Portland, ME", "Portland, ME, US"),
    ("Portland, Maine", "Portland, ME, US"),
    ("Kingston, Canada", "Kingston, ON, CA"),     # narrowed by the country's name
    ("St Johns", "St. John's, NL, CA"),           # punctuation and St/Saint
    ("Saint John's, NL", "St. John's, NL, CA"),
    ("Saint John", "Saint John, NB, CA"),         # a main name before an alternate one
    ("Quebec City", "Québec, QC, CA"),            # an alternate name
    ("Sudbury, ON", "Greater Sudbury, ON, CA"),   # an alternate name, narrowed
    ("Trois-Rivieres", "Trois-Rivières, QC, CA"),
    ("Sao Paulo", "São Paulo, BR"),               # a numeric region is left out of labels
])
def test_lookup(text, expected):
    assert label(text) == expected


def test_a_preferred_country_picks_among_places_of_one_name():
    assert label("London", country="CA") == "London, ON, CA"
    assert label("London, ENG", country="CA") == "London, ENG, GB"  # the text decides


def test_a_place_s_own_name_beats_another_place_s_alias_in_the_preferred_country():
    # GeoNames lists "Quebec" as an alternate name of New Britain, CT; a US desk typing
    # Québec still means Quebec City (regression: it answered New Britain).
    assert label("Québec", country="US") == label("Québec") == "Québec, QC, CA"


def test_place_fields():
    markham = places.lookup("Markham, ON")
    assert (markham.name, markham.region, markham.country) == ("Markham", "ON", "CA")
    assert markham.lat_deg == pytest.approx(43.87, abs=0.02)
    assert markham.lon_deg == pytest.approx(-79.27, abs=0.02)
    assert markham.population > 300_000
    assert markham.to_json() == {"name": "Markham", "region": "ON", "country": "CA",
                                 "lat": markham.lat_deg, "lon": markham.lon_deg,
                                 "label": "Markham, ON, CA"}


@pytest.mark.parametrize("code, city", [
    ("AB", "Calgary"), ("BC", "Vancouver"), ("MB", "Winnipeg"), ("NB", "Moncton"),
    ("NL", "St. John's"), ("NS", "Halifax"), ("ON", "Toronto"), ("PE", "Charlottetown"),
    ("QC", "Montréal"), ("SK", "Saskatoon"), ("YT", "Whitehorse"), ("NT", "Yellowknife"),
    ("NU", "Iqaluit"),
])
def test_canadian_admin1_codes_map_to_postal_abbreviations(code, city):
    """GeoNames numbers Canada's provinces (08 = Ontario); each abbreviation holds the
    province's largest place, so the table matches the data."""
    assert places.search(f"{city}, {code}", 1)[0].label == f"{city}, {code}, CA"
    assert {abbreviation for abbreviation, _ in places.CA_PROVINCES.values()} >= {code}


@pytest.mark.parametrize("text", ["Xyzzyville", "Markham, Narnia", "Markham, BC",
                                  "Montreal, US"])
def test_unknown_place_names_the_text(text):
    with pytest.raises(places.PlaceNotFound, match=f"unknown place '{text}'"):
        places.lookup(text)


@pytest.mark.parametrize("text", ["", "  ", ", ON", 42, None, "x" * 201])
def test_not_a_place_name(text):
    with pytest.raises(places.PlaceError):
        places.lookup(text)


# -- typeahead ----------------------------------------------------------------------------

def test_search_prefix_main_names_first_then_most_populous():
    found = places.search("Markh", 5)
    assert [p.label for p in found[:4]] == ["Markham, ON, CA", "Markham, IL, US", "Markha, RU",
                                            "Markham, TX, US"]
    assert found[4].label == "Marhaura, IN"  # by an alternate name ("Markhaura"), after them
    assert [p.label for p in places.search("Springfield, IL", 3)] == ["Springfield, IL, US"]
    assert places.search("Mark", 8)[0].name == "Mark"  # an exact name beats a longer one
    assert places.search("Mark", 8, country="CA")[0].label == "Markham, ON, CA"


def test_search_empty_and_limits():
    assert places.search("", 5) == [] and places.search("  ", 5) == []
    assert len(places.search("San", 50)) == 50
    for bad in (0, 51, True, "5"):
        with pytest.raises(places.PlaceError):
            places.search("San", bad)


def test_load_is_cached():
    places.lookup("Markham")
    assert places.load() == 0.0


# -- Canadian postal codes ----------------------------------------------------------------

@pytest.mark.parametrize("code, area, lat, lon", [
    ("L3P 3J3", "Markham Central, ON", 43.86, -79.33),
    ("l3p3j3", "Markham Central, ON", 43.86, -79.33),
    ("L3P", "Markham Central, ON", 43.86, -79.33),       # the area alone
    ("K1G 5A3", "Ottawa (Riverview / Hawthorne), ON", 45.41, -75.63),
    ("H2X 1Y4", "Plateau Mont-Royal Southeast, QC", 45.51, -73.57),
    ("V6A-3Z7", "Vancouver (Strathcona / Chinatown / Downtown Eastside), BC", 49.29, -123.09),
])
def test_canadian_urban_postal_areas(code, area, lat, lon):
    found = geocode.locate_residence_postal(code, "CA")
    assert found.area == area and found.country == "CA"
    assert found.code == " ".join(geocode.normalize_postal(code, "CA")[0].split())
    assert found.lat_deg == pytest.approx(lat, abs=0.02)
    assert found.lon_deg == pytest.approx(lon, abs=0.02)


def test_us_zip_codes_name_their_town():
    found = geocode.locate_residence_postal("94110-1234", "usa")
    assert (found.code, found.country, found.area) == ("94110", "US", "San Francisco, CA")


@pytest.mark.parametrize("code, country, message", [
    ("P0M 1A0", "CA", "P0M is a rural postal area, too wide to stand for one place"),
    ("H0H 0H0", "CA", "H0H is a rural postal area"),     # Santa Claus, at the North Pole
    ("Z9Z 9Z9", "CA", "unknown Canadian postal area Z9Z"),
    ("00000", "US", "unknown US ZIP code 00000"),
    ("SW1A 1AA", "GB", "no offline postal-code table for country GB"),
])
def test_postal_codes_that_are_not_placed_say_why(code, country, message):
    with pytest.raises(geocode.GeocodeError, match=message) as raised:
        geocode.locate_residence_postal(code, country)
    assert not isinstance(raised.value, geocode.PostalFormatError)


@pytest.mark.parametrize("code, country, message", [
    ("L3P 3J", "CA", "not a Canadian postal code"),
    ("ABCDE", "US", "not a US ZIP code"),
    ("12345", "XX", "not a two-letter ISO 3166 code"),
    ("#1", "GB", "not a postal code"),
])
def test_malformed_postal_codes(code, country, message):
    with pytest.raises(geocode.PostalFormatError, match=message):
        geocode.locate_residence_postal(code, country)


def test_site_geocoding_still_covers_us_zip_codes_only():
    """A list row needs real coordinates: an area's centre is for residences only."""
    with pytest.raises(geocode.GeocodeError, match="US ZIP codes only"):
        geocode.geocode_postal("L3P 3J3", "CA")


# -- GET /api/v1/places -------------------------------------------------------------------

def places_schema(status: int) -> dict:
    response = SPEC["paths"]["/places"]["get"]["responses"][str(status)]
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return {**response["content"]["application/json"]["schema"],
            "components": SPEC["components"]}


def get_places(client, query: str, status: int = 200):
    response = client.get(f"/api/v1/places{query}")  # no token, no session: public
    assert response.status_code == status, response.data
    OAS31Validator(places_schema(status)).validate(response.json)
    return response


def test_api_places_is_public_and_documented(kiosk_client):
    response = get_places(kiosk_client, "?q=Markh&limit=3&country=CA")
    assert response.json[0] == {"name": "Markham", "region": "ON", "country": "CA",
                                "lat": pytest.approx(43.867, abs=0.01),
                                "lon": pytest.approx(-79.266, abs=0.01),
                                "label": "Markham, ON, CA"}
    assert len(response.json) == 3
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    assert SPEC["paths"]["/places"]["get"]["security"] == []
    montreal = get_places(kiosk_client, "?q=montreal").json
    assert montreal[0]["label"] == "Montréal, QC, CA" and len(montreal) <= 10
    assert get_places(kiosk_client, "?q=").json == []
    assert get_places(kiosk_client, "").json == []


@pytest.mark.parametrize("query, fragment", [
    ("?q=Mark&limit=0", "'limit' must be a whole number 1-50"),
    ("?q=Mark&limit=x", "'limit' must be a whole number 1-50"),
    ("?q=Mark&country=Canada", "'country' must be a two-letter ISO code"),
    ("?q=Mark&state=ON", "unknown query parameter 'state'"),
    ("?q=" + "x" * 201, "at most 200 characters"),
])
def test_api_places_bad_input(kiosk_client, query, fragment):
    response = get_places(kiosk_client, query, status=400)
    assert response.json["error"]["code"] == "invalid_input"
    assert fragment in response.json["error"]["message"]


def test_search_offers_each_label_once_the_one_lookup_finds():
    found = places.search("Sudbury", 10)
    labels = [p.label for p in found]
    assert len(labels) == len(set(labels)) and "Sudbury, ENG, GB" in labels
    england = next(p for p in found if p.label == "Sudbury, ENG, GB")
    assert places.lookup("Sudbury, ENG, GB") == england
