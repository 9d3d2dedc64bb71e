"""The member planner in a real browser on a phone's screen (390 x 844; tests/browser.py): a
Portland member picks the home museum and "Chicago" by keyboard from the typeaheads and sees
the Chicago sites first; "Can I visit X?" answers on top; the URL carries the whole state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
from browser import PHONE, kiosk_server, screenshot, scroll_width

from passport import institutions

OMSI = "oregon-museum-of-science-and-industry-portland"
EXPLORATORIUM = "exploratorium-san-francisco"
SERVER_NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)


def _fill_store(db) -> dict:
    institutions.ensure_default_list(db)
    active = institutions.load_active(db)
    return {"chicago": {i for i, row in active.by_id.items() if row["city"] == "Chicago"}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with kiosk_server(tmp_path_factory.mktemp("browser-planner"), None, SERVER_NOW,
                      _fill_store) as served:
        yield served


@pytest.fixture
def phone(browser, server):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(20_000)  # the first town lookup may wait for the gazetteer
    try:
        page.goto(f"{server['url']}/")
        yield page
    finally:
        context.close()


def pick(page, field: str, text: str, option: str) -> None:
    """Type into a typeahead and pick the option with the keyboard."""
    page.focus(field)
    page.keyboard.type(text)
    listbox = f"#{page.get_attribute(field, 'aria-controls')}"
    wanted = page.locator(f"{listbox} li[role=option]", has_text=option).first
    wanted.wait_for()
    for _ in range(8):  # at most the options listed
        if wanted.get_attribute("aria-selected") == "true":
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelector('{listbox}').hidden")


def test_a_portland_member_going_to_chicago(phone, server, tmp_path):
    pick(phone, "#home-q", "OMSI", "Oregon Museum of Science and Industry")
    assert phone.input_value("#home") == OMSI
    pick(phone, "#near-place", "Chicago", "Chicago, IL, US")
    with phone.expect_navigation():
        phone.click("button[type=submit]")
    query = dict(parse_qsl(urlsplit(phone.url).query))
    assert query == {"home": OMSI, "near_place": "Chicago, IL, US"}  # shareable, no blanks
    ids = phone.eval_on_selector_all("#eligible-list > li", "items => items.map(i => i.dataset.id)")
    chicago = server["chicago"]
    assert chicago and set(ids[:len(chicago)]) == chicago
    first = phone.inner_text("#eligible-list > li:first-child")
    assert "mi from Chicago, IL, US" in first and "from home" in first
    assert scroll_width(phone) <= PHONE["width"]
    screenshot(phone, "planner-chicago.png", tmp_path)
    # the same URL opened anew shows the same plan
    phone.goto(phone.url)
    assert phone.eval_on_selector_all(
        "#eligible-list > li", "items => items.map(i => i.dataset.id)") == ids


def test_can_i_visit_answers_on_top(phone, server):
    pick(phone, "#home-q", "OMSI", "Oregon Museum of Science and Industry")
    pick(phone, "#site-q", "Exploratorium", "Exploratorium")
    with phone.expect_navigation():
        phone.keyboard.press("Enter")  # submits the form from the picker
    answer = phone.locator("#site-answer")
    assert "Yes: you can visit Exploratorium" in answer.inner_text()
    assert "miles from your home museum" in answer.inner_text()
    assert dict(parse_qsl(urlsplit(phone.url).query)) == {"home": OMSI, "site": EXPLORATORIUM}
    top = answer.bounding_box()
    assert top["y"] < phone.locator("#eligible-list").bounding_box()["y"]


def test_reasons_in_words_and_filters(phone, server):
    phone.goto(f"{server['url']}/?home={OMSI}&area=US-OR")
    phone.click("#ineligible summary")
    why = phone.locator("#ineligible .why").first.inner_text()
    assert "miles from your home museum — the program needs more than 90" in why
    regions = phone.eval_on_selector_all(
        "#eligible-list > li > span:nth-of-type(1)", "items => items.map(i => i.textContent)")
    assert regions and all(text.endswith(", OR") for text in regions)
    assert scroll_width(phone) <= PHONE["width"]
