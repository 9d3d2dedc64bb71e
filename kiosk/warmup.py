"""Warm-up before serving: load the town gazetteer, compile the kernels and build the active
table, so the first scan and the first town typeahead are as fast as the rest; ``/healthz``
answers 200 only after it."""

from __future__ import annotations

import logging
import time

from flask import Flask

from kiosk.db import get_db
from kiosk.site import active_list
from passport import institutions, places

log = logging.getLogger(__name__)

WARM_KEY = "passport.warm_seconds"


def warm(app: Flask) -> dict:
    """Load the gazetteer, compile/load the engine kernels and build the active table, so
    the first scan is as fast as the rest; marks the app warm for ``/healthz``. Returns what
    was done."""
    # Lazy on purpose: importing engine makes Numba set up the on-disk cache of its
    # @njit(cache=True) kernels (creates engine/__pycache__, writes a probe file), which is
    # slow. The kiosk calls engine directly only here, at ``serve``'s start;
    # passport.institutions imports it the same way when it first builds a table.
    import engine

    started = time.perf_counter()
    # The town typeahead's gazetteer takes 1-2 s to load: here, rather than in the first
    # clerk's typeahead (or, loaded in a thread, holding the GIL through a scan).
    places_seconds = places.load()
    kernel_seconds = engine.warm_up()
    with app.app_context():
        try:
            active = active_list()
            version, rows = active.version, len(active.table)
            # One query through the table so any lazily built index exists before traffic.
            if rows:
                first = active.records[0]
                active.table.distances_from(first["latitude"], first["longitude"])
        except institutions.NoActiveList:
            version, rows = None, 0
        # The other programs' tables (NARM's 1,543 rows: ~0.3 s), so the first decision
        # across programs finds them built too.
        programs_started = time.perf_counter()
        program_count = len(institutions.load_actives(get_db()))
        programs_seconds = time.perf_counter() - programs_started
    total_seconds = time.perf_counter() - started
    app.extensions[WARM_KEY] = total_seconds
    log.info("warm in %.2fs (kernels %.2fs, gazetteer %.2fs, %d programs' tables %.2fs), "
             "list version %s", total_seconds, kernel_seconds, places_seconds, program_count,
             programs_seconds, version)
    return {"seconds": total_seconds, "kernel_seconds": kernel_seconds,
            "places_seconds": places_seconds, "list_version": version, "institutions": rows,
            "programs": program_count, "programs_seconds": programs_seconds}
