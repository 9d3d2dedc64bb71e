"""Distance text near the radius: an admission and a denial never look the same, on the
member page (Jinja filter ``miles``) and on the desk (static/miles.js, same rule)."""

from html import unescape

import pytest

from passport import institutions
from passport.rules import format_miles

HASTINGS = "hastings-museum-hastings"
LINCOLN_CHILDRENS = "Lincoln Children"  # 90.037 miles from Hastings: admitted
BALTIMORE = "maryland-science-center-baltimore"
FRANKLIN = "The Franklin Institute"  # 89.887 miles from Baltimore: too close

CASES = [
    (90.037, 90.0, "90.04"), (89.887, 90.0, "89.89"), (90.0, 90.0, "90.00"),
    (89.999, 90.0, "90.00"), (90.004, 90.0, "more than 90"), (90.0001, 90.0, "more than 90"),
    (91.2, 90.0, "91.2"), (532.08, 90.0, "532.1"), (12.04, 90.0, "12.0"),
    (60.3, 60.0, "60.30"), (60.001, 60.0, "more than 60"), (0.25, 90.0, "0.3"),
    (90.125, 90.0, "90.13"), (None, 90.0, ""),
]


@pytest.mark.parametrize(("miles", "radius", "text"), CASES)
def test_format_miles(miles, radius, text):
    assert format_miles(miles, radius) == text


def test_admit_never_reads_as_the_radius():
    for step in range(1, 2000):
        miles = 90.0 + step * 1e-5
        assert format_miles(miles, 90.0) not in ("90.0", "90.00", "90"), miles


def miles_text(html: str, name: str) -> str:
    start = html.index(name)
    return html[start:html.index(" mi", start)].rsplit(">", 1)[-1].rsplit("· ", 1)[-1]


def test_member_page_distances_near_the_radius(kiosk_client, db, shipped_csv):
    institutions.import_file(db, shipped_csv)
    hastings = unescape(kiosk_client.get(f"/?home={HASTINGS}").data.decode())
    eligible = hastings[hastings.index('id="eligible-list"'):hastings.index("</ol>")]
    assert miles_text(eligible, LINCOLN_CHILDRENS) == "90.04"
    baltimore = unescape(kiosk_client.get(f"/?home={BALTIMORE}").data.decode())
    too_close = baltimore[baltimore.index("too close or not covered"):]
    listed = baltimore[baltimore.index('id="eligible-list"'):baltimore.index("</ol>")]
    assert FRANKLIN not in listed
    assert miles_text(too_close, FRANKLIN) == "89.89"
    # far sites keep one decimal
    assert "532.1 mi" in unescape(kiosk_client.get(
        "/?home=oregon-museum-of-science-and-industry-portland&limit=400").data.decode())
