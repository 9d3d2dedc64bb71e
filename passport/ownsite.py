"""This installation's own site: the institution its desks stand at.

One definition for the kiosk and the command line: the store's ``kiosk_site`` setting (set in
the admin console), else a configured id: $PASSPORT_SITE (the kiosk reads it into its
``SITE`` config). A list that leaves the own site off makes every check at its desks a
denial ("site not on the list"), so publishing or re-activating one takes an explicit
confirmation (``OwnSiteRemoved`` until then).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import sqlite_utils

from passport import audit, store

SETTING = "kiosk_site"
ENV_VAR = "PASSPORT_SITE"


class OwnSiteRemoved(ValueError):
    """The list to publish or activate leaves out this installation's own site."""

    def __init__(self, site: str, name: str | None, what: str) -> None:
        self.site, self.name = site, name
        super().__init__(f"{what} leaves out this kiosk's own site {describe(site, name)}: "
                         "every check at its desks would be denied; confirm the site's removal "
                         "to go ahead")


def own_site(db: sqlite_utils.Database, configured: str | None = None) -> str | None:
    """The own site's institution id: the store's setting, else ``configured`` (the kiosk's
    ``SITE`` config), else None."""
    return store.get_setting(db, SETTING) or configured or None


def own_site_from_environment(db: sqlite_utils.Database) -> str | None:
    """``own_site`` with $PASSPORT_SITE as the configured id (the command line)."""
    return own_site(db, os.environ.get(ENV_VAR, "").strip() or None)


def set_own_site(db: sqlite_utils.Database, site_id: str | None, *,
                 actor: str | None = None) -> None:
    """Set (None: clear) the store's own-site setting; audited as ``actor``."""
    previous = store.get_setting(db, SETTING)
    store.set_setting(db, SETTING, site_id)
    if previous != site_id:
        audit.record(db, actor, "site.changed", site_id, {"from": previous, "to": site_id})


def describe(site: str, name: str | None) -> str:
    return f"{name} ({site})" if name and name != site else site


def missing_from(site: str | None, records: Iterable[Mapping]) -> bool:
    """Whether ``site`` is set and is not one of ``records``' ids."""
    return bool(site) and all(row["id"] != site for row in records)


def removal_warning(site: str, name: str | None) -> str:
    """The words a dry run, a review page or a rollback preview shows."""
    return (f"this kiosk's own site {describe(site, name)} is not on this list: once it is "
            "active, every check at this kiosk is denied (site not on the list)")
