"""A residence outside the US (issue 10): a Science North member living in Markham, Ontario.

The card's Canadian postal code is placed offline (its forward sortation area), and shown;
a code that cannot be placed (a rural area, another country) leaves CHECK_RESIDENCE on an
admission, never a plain ADMIT, and the town given at the desk, the API or the CLI decides
again. Responses are validated against kiosk/openapi.yaml."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from openapi_schema_validator import OAS31Validator

import kiosk
from passport import admission, auth, cards, institutions, keys

SPEC = yaml.safe_load((Path(kiosk.__file__).parent / "openapi.yaml").read_text())
MARKHAM_MUSEUM = "markham-museum-markham"   # Markham, ON: the visited site
SCIENCE_NORTH = "science-north-sudbury"     # the member's home, ~200 miles away
INGENIUM = "ingenium-canada-science-and-technology-museum-ottawa"  # ~200 miles from Markham
SCIENCE_WORLD = "science-world-vancouver"   # asks for proof of residence
RESIDENCE_KEYS = ["postal_code", "country", "place", "lat", "lon", "located", "source", "note"]


@pytest.fixture
def listed(db, shipped_csv):
    institutions.import_file(db, shipped_csv)
    keys.create_key(db, SCIENCE_NORTH)
    return db


def issue(db, member: str, postal: str) -> str:
    return cards.issue(db, SCIENCE_NORTH, member, ["Ada Lovelace"], date(2099, 6, 30),
                       postal_code=postal, country="CA")


@pytest.fixture
def markham_card(listed):
    """Lives in central Markham (urban postal area L3P: placed)."""
    return issue(listed, "SN-1", "L3P 3J3")


@pytest.fixture
def rural_card(listed):
    """Lives by Markham in a rural postal area (L0H: too wide to place)."""
    return issue(listed, "SN-2", "L0H 1J0")


def check_json(db, visit: str, **kwargs) -> dict:
    return admission.check(db, visit, **kwargs).to_json()


# -- the decision -------------------------------------------------------------------------

def test_card_postal_code_in_markham_is_placed_and_denied_there(listed, markham_card):
    d = check_json(listed, MARKHAM_MUSEUM, card=markham_card)
    assert d["admit"] is False and d["reasons"] == ["RESIDENCE_WITHIN_RADIUS"]
    assert d["residence_distance_miles"] < 10 and d["home_distance_miles"] > 150
    residence = d["residence"]
    assert list(residence) == RESIDENCE_KEYS
    assert residence["postal_code"] == "L3P 3J3" and residence["country"] == "CA"
    assert residence["place"] == "Markham Central, ON" and residence["located"] is True
    assert residence["source"] == "card" and residence["note"] is None
    # more than 90 miles from both home and residence: admitted, no residence check
    ottawa = check_json(listed, INGENIUM, card=markham_card)
    assert ottawa["admit"] is True and ottawa["residence_distance_miles"] > 150
    assert "CHECK_RESIDENCE" not in ottawa["staff_checks"]


def test_card_postal_code_not_placed_is_never_a_plain_admit(listed, rural_card):
    d = check_json(listed, MARKHAM_MUSEUM, card=rural_card)
    assert d["admit"] is True and d["reasons"] == ["ELIGIBLE"]
    assert d["staff_checks"] == ["CHECK_PHOTO_ID", "CHECK_RESIDENCE"]
    assert d["residence_distance_miles"] is None
    assert d["residence"] == {"postal_code": "L0H 1J0", "country": "CA", "place": None,
                              "lat": None, "lon": None, "located": False, "source": "card",
                              "note": "L0H is a rural postal area, too wide to stand for one "
                                      "place"}
    assert "Ask where the member lives" in d["text"]["CHECK_RESIDENCE"]


@pytest.mark.parametrize("given", [{"residence": {"place": "Markham, ON"}},
                                   {"residence_place": "Markham, ON, CA"},
                                   {"residence_place": "markham", "country": "CA"}])
def test_the_town_given_decides_again(listed, rural_card, given):
    d = check_json(listed, MARKHAM_MUSEUM, card=rural_card, **given)
    assert d["admit"] is False and d["reasons"] == ["RESIDENCE_WITHIN_RADIUS"]
    assert d["residence_distance_miles"] < 10
    assert d["residence"]["place"] == "Markham, ON, CA" and d["residence"]["source"] == "input"
    assert d["residence"]["located"] is True and d["card"]["postal_code"] == "L0H 1J0"


def test_a_residence_not_placed_is_asked_even_where_proof_of_residence_is(listed,
                                                                          rural_card):
    d = check_json(listed, SCIENCE_WORLD, card=rural_card)
    assert d["admit"] is True
    assert d["staff_checks"] == ["CHECK_PHOTO_ID", "CHECK_PROOF_OF_RESIDENCE",
                                 "CHECK_RESIDENCE"]


def test_printed_card_with_a_canadian_postal_code_or_a_town(listed):
    placed = check_json(listed, MARKHAM_MUSEUM, home=SCIENCE_NORTH, postal="l3p3j3",
                        country="CA")
    assert placed["reasons"] == ["RESIDENCE_WITHIN_RADIUS"]
    assert placed["residence"]["postal_code"] == "L3P 3J3"
    assert placed["residence"]["source"] == "input"
    # a country with no offline table is no dead end: the decision asks for the town
    abroad = check_json(listed, MARKHAM_MUSEUM, home=SCIENCE_NORTH, postal="SW1A 1AA",
                        country="GB")
    assert abroad["admit"] is True and "CHECK_RESIDENCE" in abroad["staff_checks"]
    assert abroad["residence"]["located"] is False
    assert abroad["residence"]["note"] == "no offline postal-code table for country GB"
    by_town = check_json(listed, MARKHAM_MUSEUM, home=SCIENCE_NORTH,
                         residence={"place": "Montréal"})
    assert by_town["admit"] is True and by_town["residence_distance_miles"] > 250
    assert by_town["residence"]["place"] == "Montréal, QC, CA"


def test_unknown_place_is_an_input_error_naming_it(listed, rural_card):
    with pytest.raises(admission.CheckInputError, match="unknown place 'Markham, BC'"):
        admission.check(listed, MARKHAM_MUSEUM, card=rural_card,
                        residence={"place": "Markham, BC"})


# -- the API ------------------------------------------------------------------------------

def schema_for(path: str, method: str, status: int) -> dict:
    response = SPEC["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return {**response["content"]["application/json"]["schema"],
            "components": SPEC["components"]}


def post(client, headers, path: str, body: dict, status: int) -> dict:
    response = client.post(f"/api/v1{path}", json=body, headers=headers)
    assert response.status_code == status, response.data
    OAS31Validator(schema_for(path, "post", status)).validate(response.json)
    return response.json


@pytest.fixture
def bearer(listed):
    _, token = auth.create_token(listed, "ticketing")
    return {"Authorization": f"Bearer {token}"}


def test_api_check_shows_the_residence_and_takes_a_place(kiosk_client, bearer, rural_card):
    body = {"visit": MARKHAM_MUSEUM, "card": rural_card}
    first = post(kiosk_client, bearer, "/check", body, 200)
    assert first["admit"] is True and "CHECK_RESIDENCE" in first["staff_checks"]
    assert first["residence"]["postal_code"] == "L0H 1J0"
    assert first["residence"]["located"] is False
    again = post(kiosk_client, bearer, "/check",
                 {**body, "residence": {"place": "Markham, ON, CA"}}, 200)
    assert again["admit"] is False and again["reasons"] == ["RESIDENCE_WITHIN_RADIUS"]
    logged = post(kiosk_client, bearer, "/checkins",
                  {**body, "residence": {"place": "Markham, ON"}}, 201)
    assert logged["admit"] is False and logged["reasons"] == ["RESIDENCE_WITHIN_RADIUS"]
    assert logged["decision"]["residence"]["place"] == "Markham, ON, CA"
    plain = post(kiosk_client, bearer, "/check",
                 {"visit": MARKHAM_MUSEUM, "home": SCIENCE_NORTH}, 200)
    assert plain["residence"] is None


@pytest.mark.parametrize("extra, fragment", [
    ({"residence": {"place": "Xyzzyville, ON"}}, "unknown place 'Xyzzyville, ON'"),
    ({"residence": {"place": 5}}, "a place is a name"),
    ({"residence": {"place": "Markham", "lat": 43.9, "lon": -79.3}}, "not both"),
    ({"residence": {"place": "Markham"}, "postal": "L3P 3J3", "country": "CA"},
     "coordinates, a postal code or a place, not both"),
    ({"postal": "L3P3J", "country": "CA"}, "not a Canadian postal code"),
])
def test_api_check_bad_residence_is_a_400_naming_it(kiosk_client, bearer, rural_card, extra,
                                                     fragment):
    body = post(kiosk_client, bearer, "/check",
                {"visit": MARKHAM_MUSEUM, "card": rural_card, **extra}, 400)
    assert body["error"]["code"] == "invalid_input" and fragment in body["error"]["message"]


def test_api_eligible_by_place(kiosk_client, bearer):
    response = kiosk_client.get(f"/api/v1/eligible?home={SCIENCE_NORTH}&place=Markham,+ON",
                                headers=bearer)
    assert response.status_code == 200
    body = response.json
    assert body["residence"]["place"] == "Markham, ON, CA"
    assert MARKHAM_MUSEUM in {e["id"] for e in body["ineligible"]}
    assert MARKHAM_MUSEUM not in {e["id"] for e in body["eligible"]}


# -- the member page ----------------------------------------------------------------------

def test_member_page_takes_a_country_and_a_town(kiosk_client, listed):
    page = kiosk_client.get(f"/?home={SCIENCE_NORTH}&country=CA&where=Markham&limit=400")
    html = page.data.decode()
    assert page.status_code == 200
    assert "Where you live: <strong>Markham, ON, CA</strong>" in html
    eligible_part = html.split('id="eligible-list"')[1].split("</ol>")[0]
    assert "Markham Museum" not in eligible_part and "Ingenium" in eligible_part
    assert '<option value="CA" selected>' in html
    by_code = kiosk_client.get(f"/?home={SCIENCE_NORTH}&country=CA&where=L3P+3J3")
    assert "L3P 3J3, CA (Markham Central, ON)" in by_code.data.decode()


def test_member_page_asks_for_a_town_when_the_code_cannot_be_placed(kiosk_client, listed):
    page = kiosk_client.get(f"/?home={SCIENCE_NORTH}&country=CA&where=L0H+1J0")
    assert page.status_code == 400
    assert "L0H is a rural postal area" in page.data.decode()
    assert "give a town instead" in page.data.decode()


# -- the CLI ------------------------------------------------------------------------------

def test_cli_residence_place(cli, rural_card):
    out = json.loads(cli("check", "--visit", MARKHAM_MUSEUM, "--card", rural_card,
                         "--residence-place", "Markham, ON, CA", "--json").stdout)
    assert out["admit"] is False and out["reasons"] == ["RESIDENCE_WITHIN_RADIUS"]
    assert out["residence"]["place"] == "Markham, ON, CA"
    text = cli("check", "--visit", MARKHAM_MUSEUM, "--card", rural_card).stdout
    assert "residence L0H 1J0, CA: not located (L0H is a rural postal area" in text
    assert "Ask where the member lives" in text
    text = cli("check", "--visit", MARKHAM_MUSEUM, "--card", rural_card,
               "--residence-place", "Markham, ON").stdout
    assert "residence Markham, ON, CA: 1.8" in text


def test_cli_unknown_place_is_one_line(cli, rural_card):
    cli("check", "--visit", MARKHAM_MUSEUM, "--card", rural_card, "--residence-place",
        "Xyzzyville", error="unknown place 'Xyzzyville'")
    cli("eligible", "--home", SCIENCE_NORTH, "--residence-place", "Xyzzyville",
        error="unknown place 'Xyzzyville'")
