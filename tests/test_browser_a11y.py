"""Accessibility in a real browser (tests/browser.py): axe-core (axe-playwright-python) finds
no serious or critical violation on the member planner (empty, and with results and the map
drawn), a member's card, the sign-in page and the desk with a decision shown; the planner and
the desk work by keyboard alone; text at twice its size still fits a 390 px phone.

A failing axe check lists each violation: rule, impact, what to fix and where.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from browser import PASSWORD, PHONE, desk_page, kiosk_server, scan, scroll_width

from passport import auth, cards, institutions, keys

OMSI = "oregon-museum-of-science-and-industry-portland"
EXPLORATORIUM = "exploratorium-san-francisco"
SERVER_NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
BLOCKING = ("serious", "critical")
# A plan with everything on it: a residence, a destination, "Can I visit X?", the map.
FULL_PLAN = f"/?home={OMSI}&country=US&where=97214&near_place=Chicago&site={EXPLORATORIUM}"
MAX_TABS = 80  # more presses than any page here needs to reach its controls


def _fill_store(db) -> dict:
    institutions.ensure_default_list(db)
    auth.create_user(db, "desk1", PASSWORD, role="desk")
    keys.create_key(db, OMSI)
    return {"card": cards.issue(db, OMSI, "M-1042", ["Ada Lovelace", "Charles Babbage"],
                                date(2099, 6, 30), party_size=6)}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with kiosk_server(tmp_path_factory.mktemp("browser-a11y"), EXPLORATORIUM, SERVER_NOW,
                      _fill_store) as served:
        yield served


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(20_000)  # the first town lookup may wait for the gazetteer
    try:
        yield page
    finally:
        context.close()


def blocking_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is, in words."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            + "; ".join(" ".join(map(str, node["target"])) for node in v["nodes"][:5])
            for v in found if v["impact"] in BLOCKING]


def assert_accessible(page) -> None:
    violations = blocking_violations(page)
    assert not violations, "axe-core:\n" + "\n".join(violations)


def focused(page) -> dict:
    """The focused element: id, tag, whether it shows its focus (a hidden file field: its
    label's outline), and whether it has a size."""
    return page.evaluate("""() => {
        const e = document.activeElement;
        const box = e.getBoundingClientRect();
        const label = e.type === 'file' && document.querySelector(`label[for="${e.id}"]`);
        return {id: e.id, tag: e.tagName.toLowerCase(), text: e.textContent.trim(),
                href: e.getAttribute('href'), visible: box.width > 0 && box.height > 0,
                shown: label ? getComputedStyle(label).outlineStyle === 'solid'
                             : e.matches(':focus-visible'),
                inList: !!e.closest('#eligible-list'), type: e.type || ''};
    }""")


def tab_until(page, wanted, max_tabs: int = MAX_TABS) -> list[dict]:
    """Presses Tab until ``wanted(focused)``; returns every element focused on the way."""
    seen = []
    for _ in range(max_tabs):
        page.keyboard.press("Tab")
        now = focused(page)
        seen.append(now)
        if wanted(now):
            return seen
    raise AssertionError(f"not reached in {max_tabs} Tabs; focused: "
                         + ", ".join(f"{s['tag']}#{s['id']}" for s in seen))


# --------------------------------------------------------------------------- axe-core

def test_axe_the_empty_planner(phone, server):
    phone.goto(f"{server['url']}/")
    assert_accessible(phone)
    # and the check does see a problem: a field with no name at all
    phone.evaluate("document.querySelector('main').append(document.createElement('input'))")
    assert any(v.startswith("label (critical)") for v in blocking_violations(phone))


def test_axe_the_planner_with_results_and_the_map(phone, server):
    phone.goto(server["url"] + FULL_PLAN)
    phone.wait_for_selector("#plan-map[data-ready=true]")
    phone.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    phone.locator(".leaflet-marker-icon.map-marker-ineligible").first.dispatch_event("click")
    phone.wait_for_selector(".leaflet-popup .map-popup")
    assert_accessible(phone)


def test_axe_a_members_card(phone, server):
    phone.goto(f"{server['url']}/card?c={server['card']}")
    phone.wait_for_selector(".card-qr svg")
    assert_accessible(phone)


def test_axe_sign_in(phone, server):
    phone.goto(f"{server['url']}/login")
    assert_accessible(phone)


def test_axe_the_desk_with_a_decision(browser, server):
    with desk_page(browser, server["url"]) as desk:
        scan(desk, server["card"])
        desk.locator("#verdict").wait_for(state="visible")
        assert_accessible(desk)


# --------------------------------------------------------------------------- keyboard

def test_the_planner_by_keyboard(phone, server):
    """Tab to the home picker, pick with the arrows and Enter, Tab to the button, Enter;
    then Tab reaches the first site's link. Every stop shows where the focus is."""
    phone.goto(f"{server['url']}/")
    tab_until(phone, lambda f: f["id"] == "home-q")
    phone.keyboard.type("science")
    listbox = phone.locator("#home-q-list")
    phone.wait_for_selector("#home-q-list li[role=option]")
    options = listbox.locator("li[role=option]")
    assert options.count() >= 3
    phone.keyboard.press("ArrowDown")
    phone.keyboard.press("ArrowDown")
    phone.keyboard.press("ArrowUp")
    assert options.nth(1).get_attribute("aria-selected") == "true"
    active = phone.get_attribute("#home-q", "aria-activedescendant")
    assert active == options.nth(1).get_attribute("id")
    wanted = options.nth(1).get_attribute("data-id")
    phone.keyboard.press("Enter")
    assert phone.input_value("#home") == wanted and listbox.is_hidden()
    # the same picker again: the home the test plans for, typed and picked by Enter
    phone.keyboard.press("Control+A")
    phone.keyboard.type("OMSI")
    phone.wait_for_selector("#home-q-list li[role=option][aria-selected=true]")
    phone.keyboard.press("Enter")
    assert phone.input_value("#home") == OMSI

    stops = tab_until(phone, lambda f: f["tag"] == "button" and f["type"] == "submit")
    assert all(s["visible"] and s["shown"] for s in stops), stops
    with phone.expect_navigation():
        phone.keyboard.press("Enter")
    assert phone.locator("#eligible-list > li").count() > 0
    stops = tab_until(phone, lambda f: f["inList"] and f["tag"] == "a")
    assert stops[-1]["href"].startswith("http") and stops[-1]["shown"]
    assert all(s["visible"] for s in stops), [s for s in stops if not s["visible"]]


def test_the_town_picker_by_keyboard(phone, server):
    phone.goto(f"{server['url']}/")
    phone.focus("#near-place")
    phone.keyboard.type("Chicago")
    phone.wait_for_selector("#near-place-list li[data-label='Chicago, IL, US']")
    for _ in range(8):
        if phone.get_attribute("#near-place-list li[data-label='Chicago, IL, US']",
                               "aria-selected") == "true":
            break
        phone.keyboard.press("ArrowDown")
    phone.keyboard.press("Enter")
    assert phone.input_value("#near-place") == "Chicago, IL, US"
    phone.keyboard.press("Escape")  # nothing open: Esc changes nothing
    assert phone.input_value("#near-place") == "Chicago, IL, US"


def test_the_desk_by_keyboard(browser, server):
    """The scan field has the focus; after a decision Tab reaches every button (the photo
    field's label shows the focus of its hidden input); Esc clears and returns to the scan."""
    with desk_page(browser, server["url"]) as desk:
        scan(desk, server["card"])
        desk.locator("#verdict").wait_for(state="visible")
        assert focused(desk)["id"] == "scan"
        buttons = set(desk.eval_on_selector_all(
            "main button, main input[type=file]",
            "(all) => all.filter((b) => b.getClientRects().length && !b.disabled"
            " && !b.closest('[hidden]')).map((b) => b.id || b.textContent.trim())"))
        stops = tab_until(desk, lambda f: f["id"] == "undo")
        assert all(s["shown"] and (s["visible"] or s["type"] == "file") for s in stops), stops
        reached = {stop["id"] or stop["text"] for stop in stops}
        assert buttons <= reached, buttons - reached
        assert {"confirm", "clear", "party-adults", "party-children"} <= reached
        desk.keyboard.press("Escape")
        desk.wait_for_function("document.activeElement.id === 'scan'")
        assert desk.locator("#verdict").is_hidden()


# --------------------------------------------------------------------------- 200 % text

def doubled_text(page) -> None:
    """Text at twice its size (what a phone's largest text setting does), every folded
    part open, so each control of the page has to fit."""
    page.evaluate("""() => {
        const root = document.documentElement;
        root.style.fontSize = `${parseFloat(getComputedStyle(root).fontSize) * 2}px`;
        document.querySelectorAll('details').forEach((d) => { d.open = true; });
    }""")


def controls_out_of_view(page) -> list[str]:
    """Rendered controls not wholly inside the page's width (or of no size)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll(
            'a[href], button, input:not([type=hidden]), select, textarea, summary'))
        .filter((e) => e.getClientRects().length && !e.closest('.visually-hidden, .leaflet-pane'))
        .filter((e) => {
            const box = e.getBoundingClientRect();
            return box.width < 1 || box.height < 1 || box.left < -0.5
                || box.right > document.documentElement.clientWidth + 0.5;
        }).map((e) => `${e.tagName.toLowerCase()}#${e.id} ${e.textContent.trim().slice(0, 30)}`)""")


@pytest.mark.parametrize("path", ["/", FULL_PLAN, "card"])
def test_text_at_200_percent_fits_a_phone(phone, server, path):
    url = server["url"] + (f"/card?c={server['card']}" if path == "card" else path)
    phone.goto(url)
    before = phone.evaluate("getComputedStyle(document.querySelector('h1')).fontSize")
    doubled_text(phone)
    after = phone.evaluate("getComputedStyle(document.querySelector('h1')).fontSize")
    assert float(after[:-2]) == pytest.approx(2 * float(before[:-2]))
    phone.wait_for_timeout(100)  # layout settles (the map resizes)
    assert scroll_width(phone) <= PHONE["width"]
    assert not controls_out_of_view(phone), controls_out_of_view(phone)
