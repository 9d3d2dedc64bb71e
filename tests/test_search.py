"""Finding a home institution by hand: relevance ranking (passport.search), one ranking for
the desk's typeahead (the API), the CLI and the library."""

from __future__ import annotations

import json

import pytest

from passport import auth, institutions
from passport.search import SearchIndex, acronyms, words

OMSI = "oregon-museum-of-science-and-industry-portland"
BOSTON = "museum-of-science-boston-boston"


@pytest.fixture
def listed(db, shipped_csv):
    institutions.import_file(db, shipped_csv)
    return db


def top(db, text: str, n: int = 1) -> list[str]:
    return [row["id"] for row in institutions.search(db, text, n)]


@pytest.mark.parametrize(("query", "expected"), [
    ("OMSI", OMSI),
    ("omsi", OMSI),
    ("MOSI", "mosi-museum-of-science-innovation-tampa"),
    ("COSI", "cosi-columbus"),
    ("MOST", "museum-of-science-technology-most-syracuse"),
    ("museum of science boston", BOSTON),
    ("boston museum of science", BOSTON),       # word order free
    ("science boston", BOSTON),
    ("exploratorum", "exploratorium-san-francisco"),  # a typo
    ("Exploratorium", "exploratorium-san-francisco"),
    ("st louis science", "saint-louis-science-center-saint-louis"),
    ("Montréal", "montreal-science-centre-montreal"),
    ("99501", "anchorage-museum-anchorage"),    # postal code
])
def test_what_people_type_finds_the_site_first(listed, query, expected):
    assert top(listed, query) == [expected]


def test_names_starting_with_the_text_come_first(listed):
    found = [row["name"] for row in institutions.search(listed, "Explor")]
    starting = [name for name in found if name.lower().startswith("explor")]
    assert starting and found[:len(starting)] == starting
    assert "Bermuda Underwater Exploration Institute" in found[len(starting):]


def test_a_city_lists_its_sites_first(listed):
    chicago = [r for r in institutions.load_active(listed).records if r["city"] == "Chicago"]
    assert len(chicago) >= 2
    assert set(top(listed, "chicago", len(chicago))) == {r["id"] for r in chicago}


def test_every_word_must_match_and_nonsense_finds_nothing(listed):
    assert top(listed, "boston zzzzqq") == []
    assert institutions.search(listed, "%") == []
    assert institutions.count(listed, "omsi") == 1
    assert len(institutions.search(listed, "")) == institutions.count(listed, "") == 368


def test_words_and_acronyms():
    assert words("Children's Museum, Montréal & St. Paul") == [
        "childrens", "museum", "montreal", "saint", "paul"]
    assert {"omsi", "omosai"} <= acronyms(words("Oregon Museum of Science and Industry"))
    assert "most" in acronyms(words("Museum of Science & Technology"))


def test_rank_on_rows_without_a_store():
    index = SearchIndex.build([{"id": "a", "name": "Science Barn"},
                               {"id": "b", "name": "Barn of Science", "city": "Dover"}])
    assert index.rank("barn science") == [0, 1]
    assert index.rank("dover") == [1]
    assert index.rank("", limit=1) == [0]


def test_api_and_cli_use_the_same_ranking(listed, kiosk_client, cli):
    _, token = auth.create_token(listed, "t")
    expected = top(listed, "museum of science", 8)
    api = kiosk_client.get("/api/v1/institutions?q=museum%20of%20science&limit=8",
                           headers={"Authorization": f"Bearer {token}"}).json
    assert [r["id"] for r in api["institutions"]] == expected
    assert api["total"] == institutions.count(listed, "museum of science")
    shown = json.loads(cli("institutions", "--search", "museum of science", "--limit", "8",
                           "--json").output)
    assert [r["id"] for r in shown["institutions"]] == expected
