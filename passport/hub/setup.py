"""``passport hub init``: the schema, the program profiles and the hub's first signing key."""

from __future__ import annotations

import sqlite_utils

from passport import hubstore, store
from passport.hub import signing


def seed_profile_rows() -> list[dict]:
    """The program profiles a new site store is seeded with (``passport.store``'s
    migrations are their only home), without the site's own ``active_list_version``."""
    seeded = sqlite_utils.Database(memory=True)
    try:
        store.migrate(seeded)
        rows = [dict(row) for row in seeded["profiles"].rows]
    finally:
        seeded.close()
    for row in rows:
        row.pop("active_list_version", None)
    return rows


def init(pool: hubstore.Pool) -> dict:
    """Apply the missing migrations, add the program profiles not there yet and create the
    hub's signing key on the first run. Safe to run again (then it changes nothing)."""
    migrated = hubstore.migrate(pool)
    added = hubstore.seed_profiles(pool, seed_profile_rows())
    key, created = signing.ensure_key(pool)
    return {"schema_version": migrated["schema_version"], "migrations_applied":
            migrated["applied"], "profiles_added": added, "hub_key": key,
            "hub_key_created": created}
