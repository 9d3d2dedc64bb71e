"""The planner's map and the phone card in a real browser on a phone's screen (390 x 844;
tests/browser.py): the map draws the home exclusion zone and the sites as markers of two
shapes over the vendored outlines, with no request leaving the kiosk; the card page and the
planner open with the network cut after a first visit (the service worker, kiosk/pwa.py).

Each test has its own browser context, so its own service worker and caches.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from browser import PHONE, kiosk_server, screenshot

from kiosk import pwa
from passport import cards, institutions, keys

OMSI = "oregon-museum-of-science-and-industry-portland"
SERVER_NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
MIN_QR_CSS_PX = 330  # 60 mm at a phone's ~0.18 mm per CSS pixel (390 px across ~71 mm)


def _fill_store(db) -> dict:
    institutions.ensure_default_list(db)
    keys.create_key(db, OMSI)
    return {"card": cards.issue(db, OMSI, "M-1042", ["Ada Lovelace", "Charles Babbage"],
                                date(2099, 6, 30), party_size=6)}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with kiosk_server(tmp_path_factory.mktemp("browser-map"), None, SERVER_NOW,
                      _fill_store) as served:
        yield served


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(20_000)
    try:
        yield context
    finally:
        context.close()


def element_screenshot(locator, name: str, tmp_path: Path) -> None:
    """One element's picture, where ``browser.screenshot`` puts whole pages."""
    folder = Path(os.environ.get("PASSPORT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    locator.screenshot(path=str(folder / name))


def only_the_kiosk(context, url: str) -> list[str]:
    """Lets the kiosk's own requests through and aborts any other, returning the list of
    those aborted (it fills as the pages ask)."""
    left: list[str] = []

    def route(handled):
        if handled.request.url.startswith(f"{url}/"):
            handled.continue_()
        else:
            left.append(handled.request.url)
            handled.abort()

    context.route("**/*", route)
    return left


def cut_the_network(context) -> list[str]:
    """Offline (Playwright's emulation), and every request that still reaches the network,
    the service worker's too, aborted and recorded."""
    reached: list[str] = []

    def route(handled):
        reached.append(handled.request.url)
        handled.abort("internetdisconnected")

    context.unroute("**/*")
    context.route("**/*", route)
    context.set_offline(True)
    return reached


def open_planner_map(page, url: str, **query: str) -> None:
    page.goto(f"{url}/?{urlencode(query)}")
    page.wait_for_selector("#plan-map[data-ready]")
    assert page.locator("#plan-map-status").is_hidden(), page.inner_text("#plan-map-status")


def wait_for_async(page, function: str, arg=None, timeout_s: float = 20) -> None:
    """Waits until the async JavaScript ``function(arg)`` answers something truthy, asking
    again every 100 ms until ``timeout_s``. (``wait_for_function`` would take the promise
    itself as the answer, and turning the source into a function in the page needs eval,
    which the kiosk's Content-Security-Policy refuses; ``evaluate`` awaits the promise.)"""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(function, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s} s: {function}")
        page.wait_for_timeout(100)


def kept_in_cache(page, path: str) -> None:
    """Waits until the service worker's cache holds ``path`` with the page's query."""
    wait_for_async(page, "async (url) => Boolean(await caches.match(url))",
                   path + "?" + page.url.split("?", 1)[1])


def inside(box: dict, frame: dict) -> bool:
    """Whether bounding box ``box`` lies wholly within ``frame`` (the first view shows it)."""
    return (frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"]
            and frame["y"] <= box["y"]
            and box["y"] + box["height"] <= frame["y"] + frame["height"])


def marker_shapes(page) -> dict[str, set[str]]:
    """For each kind of site marker, the SVG shapes its icons are drawn with."""
    return page.evaluate("""() => {
        const shapes = {};
        for (const kind of ['eligible', 'ineligible']) {
            const icons = document.querySelectorAll(`.leaflet-marker-icon.map-marker-${kind}`);
            shapes[kind] = [...new Set([...icons].flatMap(
                (icon) => [...icon.querySelectorAll('svg > *')].map((s) => s.tagName)))];
        }
        return shapes;
    }""")


def test_the_map_shows_the_home_circle_and_sites_in_two_shapes(phone, server, tmp_path):
    page = phone.new_page()
    open_planner_map(page, server["url"], home=OMSI)
    zone = page.locator("path.map-zone-home")
    assert zone.count() == 1 and len(zone.get_attribute("d")) > 100
    assert zone.bounding_box()["width"] > 50  # drawn at a size one sees
    assert inside(zone.bounding_box(), page.locator("#plan-map-canvas").bounding_box())

    plan = page.request.get(f"{server['url']}/api/v1/plan.geojson?home={OMSI}").json()
    sites = [f["properties"] for f in plan["features"] if f["properties"].get("kind") == "site"]
    eligible = page.locator(".leaflet-marker-icon.map-marker-eligible")
    ineligible = page.locator(".leaflet-marker-icon.map-marker-ineligible")
    assert eligible.count() == sum(s["eligible"] for s in sites) > 300
    assert ineligible.count() == sum(not s["eligible"] for s in sites) >= 1
    assert page.locator(".leaflet-marker-icon.map-marker-home").count() == 1
    assert marker_shapes(page) == {"eligible": ["circle"], "ineligible": ["path"]}

    ineligible.first.dispatch_event("click")  # markers sit under one another: no hit test
    popup = page.locator(".leaflet-popup .map-popup")
    popup.wait_for()
    text = popup.inner_text()
    near = next(s for s in sites if not s["eligible"] and s["name"] in text)
    assert near["why"] in text and "miles from your home museum" in text
    element_screenshot(page.locator("#plan-map"), "planner-map.png", tmp_path)

    eligible.last.dispatch_event("click")  # one popup at a time: the other closes
    page.wait_for_function("() => document.querySelectorAll('.leaflet-popup').length === 1"
                           " && document.querySelector('.map-popup-yes')")
    assert "Free for you" in popup.inner_text() and "miles from your home museum" in text


def test_the_map_draws_offline_outlines_and_nothing_leaves_the_kiosk(phone, server):
    left = only_the_kiosk(phone, server["url"])
    page = phone.new_page()
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    open_planner_map(page, server["url"], home=OMSI, near_place="Chicago, IL")
    assert page.locator("path.map-land").count() > 100  # countries and US states, filled
    assert page.locator("path.map-outline").count() == 3  # borders, states, provinces
    assert page.locator(".leaflet-marker-icon.map-marker-destination").count() == 1
    assert not page.locator(".leaflet-tile").count()  # no tile URL configured: no tiles
    assert left == []
    assert asked and all(url.startswith(f"{server['url']}/") for url in asked), asked


def test_the_card_opens_with_the_network_cut_after_a_first_visit(phone, server, tmp_path):
    page = phone.new_page()
    page.goto(f"{server['url']}/card?c={server['card']}")
    qr = page.locator(".card-qr svg")
    assert qr.bounding_box()["width"] >= MIN_QR_CSS_PX
    page.wait_for_selector("html[data-offline=kept]")
    assert "opens without a connection" in page.inner_text("#offline-status")

    reached = cut_the_network(phone)
    response = page.reload()
    assert response.ok and response.from_service_worker
    assert qr.is_visible() and qr.bounding_box()["width"] >= MIN_QR_CSS_PX
    assert "Ada Lovelace, Charles Babbage" in page.inner_text(".card-facts")
    assert "Oregon Museum of Science and Industry" in page.inner_text(".card-facts")
    assert "2099-06-30" in page.inner_text(".card-facts")
    assert "offline" in page.inner_text("#offline-status")
    screenshot(page, "card-offline.png", tmp_path)
    assert any("/card?c=" in url for url in reached)  # network first: it was tried

    # a card link never opened here: the card kept last, whose names say whose it is
    response = page.goto(f"{server['url']}/card?c=PYZ1AAAA")
    assert response.from_service_worker and "Ada Lovelace" in page.inner_text(".card-facts")


def test_the_planner_and_its_map_open_offline_after_a_first_visit(phone, server):
    page = phone.new_page()
    open_planner_map(page, server["url"], home=OMSI)
    page.wait_for_selector("html[data-offline=kept]")
    kept_in_cache(page, "/api/v1/plan.geojson")

    cut_the_network(phone)
    response = page.reload()
    assert response.ok and response.from_service_worker
    page.wait_for_selector("#plan-map[data-ready]")
    assert page.locator("#plan-map-status").is_hidden()
    assert page.locator("path.map-zone-home").count() == 1
    assert page.locator("path.map-land").count() > 100
    assert page.locator("#eligible-list li").count() > 0

    # a planner query never asked here: the planner shell (kept when the worker installed)
    response = page.goto(f"{server['url']}/?home=exploratorium-san-francisco")
    assert response.ok and response.from_service_worker
    assert page.locator("#plan-form").count() == 1 and page.locator("#plan-map").count() == 0


def test_a_new_release_replaces_the_cache_and_keeps_the_card(phone, server, monkeypatch):
    page = phone.new_page()
    page.goto(f"{server['url']}/card?c={server['card']}")
    page.wait_for_selector("html[data-offline=kept]")
    (first,) = page.evaluate("caches.keys()")
    assert first.startswith(f"passport-{pwa.app_version()}-")

    monkeypatch.setattr(pwa, "app_version", lambda: "99.0.0")  # the next release
    page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
    wait_for_async(page, """async () => {
        const names = await caches.keys();
        return names.length === 1 && names[0].startsWith("passport-99.0.0-");
    }""")

    cut_the_network(phone)
    response = page.reload()
    assert response.ok and response.from_service_worker
    assert "Ada Lovelace, Charles Babbage" in page.inner_text(".card-facts")
