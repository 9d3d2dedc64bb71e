"""This kiosk's own site and the active participant list, for the views.

The list is cached by ``passport.institutions.load_active`` per (store file, version): each
call costs one small query, and a newly published or rolled-back version is picked up on
the next request, no restart.
"""

from __future__ import annotations

from flask import current_app

from kiosk.db import get_db
from passport import institutions, rules, store

SITE_SETTING = "kiosk_site"


def active_list():
    """The active participant list (``passport.institutions.ActiveList``); raises
    ``passport.institutions.NoActiveList`` while none is published."""
    return institutions.load_active(get_db())


def active_list_or_none():
    """``active_list()``, or None while no participant list is published."""
    try:
        return active_list()
    except institutions.NoActiveList:
        return None


def institution_choices(active) -> list[dict]:
    """The rows of an active list (or None: none) by name, for a page's picker."""
    return sorted(active.records, key=lambda r: r["name"].lower()) if active else []


def listed_institution(institution_id: str | None) -> dict | None:
    """The active list's row for ``institution_id``, or None (not listed, or no list yet)."""
    active = active_list_or_none() if institution_id else None
    return active.by_id.get(institution_id) if active else None


def program_profile() -> rules.Profile:
    """The program profile this kiosk decides under (radius, residence and party rules)."""
    return institutions.get_profile(get_db())


def kiosk_site() -> str | None:
    """The visited institution this kiosk stands at: the admin setting, else $PASSPORT_SITE."""
    return store.get_setting(get_db(), SITE_SETTING) or current_app.config.get("SITE")


def set_kiosk_site(site_id: str | None) -> None:
    store.set_setting(get_db(), SITE_SETTING, site_id)


def site_timezone(site_id: str | None) -> str | None:
    """The site's IANA time zone from the active list, when it has one."""
    active = active_list_or_none() if site_id else None
    return (active.timezone_of(site_id) or None) if active else None
