"""The member pages in French and Spanish in a real browser on a phone (390 x 844;
tests/browser.py): a browser set to French gets the planner in French, its list's reasons
and its map's words too; the switcher's ES link keeps the plan (the same query) and the
choice holds on the next page; the map asks the API for its sentences in the page's
language. ``PASSPORT_SCREENSHOTS=docs/screenshots`` keeps the picture of the French planner.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from browser import PHONE, kiosk_server

from passport import institutions

OMSI = "oregon-museum-of-science-and-industry-portland"
SERVER_NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
# An OMSI member living at ZIP 97214, going to Montréal: Salem's museum is too close to both.
PLAN = {"home": OMSI, "country": "US", "where": "97214", "near_place": "Montréal, QC, CA"}
SCREENSHOT_HEIGHT = 1700  # the phone's first two screens: the answer, the map, the list


def _fill_store(db) -> dict:
    institutions.ensure_default_list(db)
    return {}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with kiosk_server(tmp_path_factory.mktemp("browser-languages"), None, SERVER_NOW,
                      _fill_store) as served:
        yield served


def phone_in(browser, locale: str):
    """A phone whose browser asks for ``locale`` first (its Accept-Language)."""
    context = browser.new_context(viewport=PHONE, locale=locale)
    context.set_default_timeout(20_000)
    return context


@pytest.fixture
def french_phone(browser):
    context = phone_in(browser, "fr-CA")
    try:
        yield context
    finally:
        context.close()


def query(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).query))


def open_plan(page, url: str) -> list[str]:
    """Opens the plan and waits for its map; returns the map's data requests."""
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/plan" in r.url else None)
    page.goto(url)
    page.wait_for_selector("#plan-map[data-ready=true]")
    return asked


def test_a_french_browser_gets_the_planner_in_french(french_phone, server, tmp_path):
    page = french_phone.new_page()
    page.goto(f"{server['url']}/")
    assert page.get_attribute("html", "lang") == "fr"
    assert page.inner_text("h1") == "Où puis-je entrer gratuitement?"
    assert page.inner_text("label[for=home-q]") == "Mon musée ou centre des sciences d’attache"
    assert page.get_attribute("#languages a[aria-current=true]", "hreflang") == "fr"

    url = f"{server['url']}/?" + "&".join(f"{k}={v}" for k, v in PLAN.items())
    asked = open_plan(page, url)
    heading = page.inner_text("#eligible-heading")
    assert "sites que vous pouvez visiter avec votre adhésion" in heading
    assert "Montréal, QC, CA" in heading
    folder = Path(os.environ.get("PASSPORT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "planner-fr.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": PHONE["width"],
                          "height": SCREENSHOT_HEIGHT})
    page.click("#ineligible > summary")
    why = page.inner_text("#ineligible .why")
    assert "milles de votre musée d’attache" in why and "le programme exige plus de 90" in why
    assert why[0] == "À"  # a sentence on its own starts with a capital
    assert [query(u).get("lang") for u in asked] == ["fr"]
    # the map speaks French too: its legend, and a popup's reason from the API
    assert "Gratuit pour vous" in page.inner_text(".map-legend")
    page.locator(".leaflet-marker-icon.map-marker-ineligible").first.dispatch_event("click")
    popup = page.locator(".leaflet-popup .map-popup")
    popup.wait_for()
    assert "milles de votre musée d’attache" in popup.inner_text()
    assert page.get_attribute(".leaflet-popup-close-button", "aria-label") == "Fermer"
    assert page.get_attribute(".leaflet-control-zoom-in", "aria-label") == "Zoom avant"


def test_the_switcher_keeps_the_plan_and_the_choice_holds(french_phone, server):
    page = french_phone.new_page()
    url = f"{server['url']}/?" + "&".join(f"{k}={v}" for k, v in PLAN.items())
    open_plan(page, url)
    french_ids = page.eval_on_selector_all("#eligible-list > li", "l => l.map(i => i.dataset.id)")
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/plan" in r.url else None)
    with page.expect_navigation():
        page.click("#languages a[hreflang=es]")
    page.wait_for_selector("#plan-map[data-ready=true]")
    assert query(page.url) == PLAN  # the same plan, its URL without lang
    assert page.get_attribute("html", "lang") == "es"
    assert page.inner_text("h1") == "¿Dónde puedo entrar gratis?"
    assert "sitios que puede visitar con su membresía" in page.inner_text("#eligible-heading")
    page.click("#ineligible > summary")
    why = page.inner_text("#ineligible .why")
    assert "millas de su museo de origen" in why and "el programa exige más de 90" in why
    assert page.eval_on_selector_all(
        "#eligible-list > li", "l => l.map(i => i.dataset.id)") == french_ids
    assert [query(u).get("lang") for u in asked] == ["es"]  # the page's, given once
    # the choice holds on the next page, over the browser's French
    page.click("nav a[href='/card']")
    assert page.get_attribute("html", "lang") == "es"
    assert page.inner_text("h1") == "Mi tarjeta Passport"
