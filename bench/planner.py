"""Benchmark: the member planner (issue 11's targets: one member's plan over every site
<= 1 ms for the 368-site list and <= 3 ms for 2,000 sites, in-process; the planner page
<= 60 KB over the wire, gzip).

The lists: the shipped one (368 sites) and 2,000 sites made from it, the real rows plus
jittered copies (each placed 5-150 miles from a real site with geographiclib's Direct,
seeded, so every run plans over the same list). One member: a member of OMSI (Portland)
living at ZIP 97214, going to Chicago: the home rule, the residence rule and a destination.

``run()`` times, per list, ``passport.planner.plan_sites`` (every site decided at once
with the engine's masks, entries built from per-list parts: what ``/api/v1/plan`` answers)
beside the per-site ``rules.decide()`` loop it replaces, then renders the planner page in the
real app (Flask's test client, ``Accept-Encoding: gzip``) and reports its size as sent.
``bench/cases_planner.py`` puts the same rows in ``passport bench``'s table.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import numpy as np

from bench.inputs import SHIPPED_CSV
from bench.registry import sample_us

HOME = "oregon-museum-of-science-and-industry-portland"
RESIDENCE = (45.5142, -122.6364)  # ZIP 97214, Portland, OR (zipcodes' centroid)
NEAR = (41.85003, -87.65005)  # Chicago, IL (the gazetteer's point)
BIG_N = 2000
SEED = 20261101
TARGET_368_US = 1000.0
TARGET_2000_US = 3000.0
TARGET_PAGE_BYTES = 60 * 1024
PAGE_QUERY = f"home={HOME}&country=US&where=97214&near_place=Chicago"


@functools.cache
def shipped_active():
    """The shipped list as the kiosk holds it (imported into a store, then loaded)."""
    from passport import institutions, store

    db = store.open_db(":memory:")
    institutions.import_file(db, SHIPPED_CSV)
    return institutions.load_active(db)


def synthetic_rows(rows: list[dict], n: int = BIG_N, seed: int = SEED) -> list[dict]:
    """``rows`` and jittered copies of them up to ``n`` rows (ids and names made unique)."""
    from geographiclib.geodesic import Geodesic

    from engine import METERS_PER_MILE

    rng = np.random.default_rng(seed)
    out = [dict(r) for r in rows]
    for k in range(n - len(rows)):
        base = rows[k % len(rows)]
        moved = Geodesic.WGS84.Direct(base["latitude"], base["longitude"],
                                      rng.uniform(0.0, 360.0),
                                      rng.uniform(5.0, 150.0) * METERS_PER_MILE)
        out.append({**base, "id": f"{base['id']}-copy-{k}", "name": f"{base['name']} {k}",
                    "latitude": moved["lat2"], "longitude": moved["lon2"]})
    return out


@functools.cache
def big_active():
    """2,000 sites built from the shipped list (``synthetic_rows``), same profile."""
    from passport import institutions

    active = shipped_active()
    return institutions.build_active_list(1, active.profile,
                                          synthetic_rows(list(active.records)))


def plan_call(active):
    """The planner's call for the benchmark's member (built parts warmed)."""
    from passport import planner

    def call():
        return planner.plan_sites(active, HOME, RESIDENCE, NEAR)

    call()
    return call


def decide_loop_call(active):
    """The same decisions made one by one with ``rules.decide()``."""
    from passport import rules

    ids = list(active.table.ids)

    def call():
        return [rules.decide(active, site, HOME, residence=RESIDENCE) for site in ids]

    call()
    return call


def _page_figures(client, url: str, repeat: int) -> dict:
    packed = client.get(url, headers={"Accept-Encoding": "gzip"})
    plain = client.get(url)
    assert packed.status_code == plain.status_code == 200, url
    timing = sample_us(lambda: client.get(url, headers={"Accept-Encoding": "gzip"}), repeat)
    return {"raw_bytes": len(plain.data), "gzip_bytes": len(packed.data),
            "median_us": timing["median_us"], "p99_us": timing["p99_us"]}


def page_sizes(repeat: int = 50) -> dict:
    """The planner page and its JSON as sent: a typical plan (the first 25 sites) and one
    listing every site, raw and gzip, with the server's time per page (test client)."""
    from kiosk import create_app
    from passport import institutions, places, store

    places.load()
    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "bench.sqlite"
        db = store.open_db(db_path)
        institutions.import_file(db, SHIPPED_CSV)
        db.close()
        app = create_app({"SECRET_KEY": "bench-only-secret", "DB": str(db_path),
                          "PUBLIC_RATE_LIMIT": 0})
        client = app.test_client()
        return {
            "page_typical": _page_figures(client, f"/?{PAGE_QUERY}", repeat),
            "page_every_site": _page_figures(client, f"/?{PAGE_QUERY}&limit=400", repeat),
            "api_plan_json": _page_figures(client, f"/api/v1/plan?{PAGE_QUERY}", repeat),
        }


def run(repeat: int = 300) -> dict:
    """The planner's figures; returns ``{"name", "results", "targets_met"}``."""
    small, big = shipped_active(), big_active()
    results = {
        "plan_368": sample_us(plan_call(small), repeat),
        "decide_loop_368": sample_us(decide_loop_call(small), max(20, repeat // 20)),
        "plan_2000": sample_us(plan_call(big), repeat),
        "decide_loop_2000": sample_us(decide_loop_call(big), max(10, repeat // 50)),
        **page_sizes(max(20, repeat // 10)),
    }
    return {
        "name": "planner",
        "member": f"{HOME}, living at ZIP 97214, going to Chicago",
        "results": results,
        "targets_met": {
            "plan_368_le_1ms": results["plan_368"]["median_us"] <= TARGET_368_US,
            "plan_2000_le_3ms": results["plan_2000"]["median_us"] <= TARGET_2000_US,
            "page_gzip_le_60kb": results["page_typical"]["gzip_bytes"] <= TARGET_PAGE_BYTES,
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))  # noqa: T201 - a script's own output
