"""Benchmark rows: one scan decided under one program against the same scan under three
(issue 13's target: three programs within 2x of one, in the same run).

Both stores hold the shipped ASTC list; the second also the shipped NARM and AZA lists with
the home and the visited site added to them, so that all three programs are decided (and
the best benefit chosen) on every call. A scan is a signed card: version 1 (ASTC) in the
first store, version 2 naming the three programs in the second; the rows "printed card"
check a home id instead, the decision path without the card.
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

from bench.cases_rules import HOME, VISIT
from bench.registry import register

TASK_PROGRAMS = "one scan under several programs (target: 3 programs <= 2x one)"
ON = "2026-07-04"
DATA = Path(__file__).resolve().parents[1] / "data"


def _store(programs: tuple[str, ...]):
    from passport import institutions, store

    folder = Path(tempfile.mkdtemp(prefix="passport-bench-programs-"))
    db = store.open_db(folder / "bench.sqlite")
    institutions.import_file(db, DATA / "institutions.csv")
    astc = institutions.load_active(db)
    shared = [dict(astc.by_id[HOME]), dict(astc.by_id[VISIT])]
    for program, name in (("narm", "narm_2026.csv"), ("aza", "aza_reciprocity.csv")):
        if program not in programs:
            continue
        institutions.import_file(db, DATA / name, profile=program)
        rows = institutions.load_active(db, program).records
        store.publish_list(db, profile=program, records=[*rows, *shared],
                           source_name="bench", source_sha256=None, actor="bench")
    return db


def _check(programs: tuple[str, ...], scanned: bool):
    from datetime import date

    from passport import admission, cards, keys

    db = _store(programs)
    if scanned:
        keys.create_key(db, HOME)
        card = cards.issue(db, HOME, "M-1", ["Ada Lovelace"], date(2099, 1, 1), party_size=2,
                           programs=list(programs))
        call = partial(admission.check, db, VISIT, card=card, on=ON)
    else:
        call = partial(admission.check, db, VISIT, home=HOME, on=ON)
    decision = call()  # builds and caches the tables, verifies the signature once
    assert len(decision.to_json()["programs"]) == len(programs), decision.to_json()["programs"]
    return call


@register(TASK_PROGRAMS, "scan, 1 program (ASTC card v1)", note="the peer")
def _one_program(inputs):
    return _check(("astc",), scanned=True)


@register(TASK_PROGRAMS, "scan, 3 programs (card v2: ASTC, NARM, AZA)",
          note="each decided, best benefit first")
def _three_programs(inputs):
    return _check(("astc", "narm", "aza"), scanned=True)


@register(TASK_PROGRAMS, "printed card, 1 program", note="no card to verify")
def _one_printed(inputs):
    return _check(("astc",), scanned=False)


@register(TASK_PROGRAMS, "printed card, 3 programs", note="no card to verify")
def _three_printed(inputs):
    return _check(("astc", "narm", "aza"), scanned=False)
