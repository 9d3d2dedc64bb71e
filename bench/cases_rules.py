"""Benchmark rows for the admission decision (issue target: <= 20 us median, no I/O).

``rules.decide`` runs on the shipped list held in memory exactly as the desk holds it
(``institutions.build_active_list``); ``admission.check`` adds the orchestration a desk call
pays: input parsing and one SQLite query for the active version.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.registry import register

TASK_DECIDE = "one admission decision (target <= 20 us)"
HOME = "anniston-museums-and-gardens-anniston"
VISIT = "museum-of-science-boston-boston"  # about 1,000 miles away: an admit
RESIDENCE = (33.66, -85.83)  # Anniston, AL


def _active(inputs):
    from passport import store
    from passport.institutions import build_active_list, get_profile

    rows = []
    for r in inputs.records:
        row = dict(r, latitude=float(r["latitude"]), longitude=float(r["longitude"]),
                   proof_of_residence=int(r["proof_of_residence"]))
        row.setdefault("local_radius_miles", None)
        rows.append(row)
    profile = get_profile(store.open_db(":memory:"))  # as a new store seeds it
    return build_active_list(1, profile, rows)


@register(TASK_DECIDE, "rules.decide (home)", note="in memory, no SQL")
def _decide_home(inputs):
    from passport.rules import decide

    return decide, (_active(inputs), VISIT, HOME)


@register(TASK_DECIDE, "rules.decide (home + residence)", note="one exact geodesic")
def _decide_residence(inputs):
    from functools import partial

    from passport.rules import decide

    return partial(decide, _active(inputs), VISIT, HOME, residence=RESIDENCE)


@register(TASK_DECIDE, "admission.check (manual, store)", note="+ parsing, 1 SQLite query")
def _check(inputs):
    from functools import partial

    from bench.inputs import SHIPPED_CSV
    from passport import admission, institutions, store

    folder = Path(tempfile.mkdtemp(prefix="passport-bench-"))
    db = store.open_db(folder / "bench.sqlite")
    institutions.import_file(db, SHIPPED_CSV)
    admission.check(db, VISIT, home=HOME, on="2026-07-04")  # builds and caches the table
    return partial(admission.check, db, VISIT, home=HOME, on="2026-07-04")
