"""This kiosk's own site and the active participant list, for the views.

The list is cached by ``passport.institutions.load_active`` per (store file, version): each
call costs one small query, and a newly published or rolled-back version is picked up on
the next request, no restart.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime

from flask import current_app, g

from kiosk.db import get_db
from passport import institutions, ownsite, rules


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
    """The visited institution this kiosk stands at: the admin setting, else the ``SITE``
    config ($PASSPORT_SITE); one definition with the CLI's, in ``passport.ownsite``."""
    return ownsite.own_site(get_db(), current_app.config.get("SITE"))


def set_kiosk_site(site_id: str | None, actor: str | None = None) -> None:
    ownsite.set_own_site(get_db(), site_id, actor=actor)


def site_timezone(site_id: str | None) -> str | None:
    """The site's IANA time zone from the active list, when it has one."""
    active = active_list_or_none() if site_id else None
    return (active.timezone_of(site_id) or None) if active else None


def site_zone_name() -> str | None:
    """This kiosk's site's IANA time zone (None: no site, or none known), once per request."""
    if "site_zone" not in g:
        g.site_zone = site_timezone(kiosk_site())
    return g.site_zone


def local_time(value: str | datetime | None) -> str:
    """The ``localtime`` filter: a stored time (ISO text or aware datetime; naive means UTC)
    as this kiosk's site's local time to the minute with the zone's abbreviation
    (``2026-11-30 20:19 PST``), or in UTC, saying so, when the kiosk has no site or zone."""
    if value is None or value == "":
        return ""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    zone_name = site_zone_name()
    try:
        zone = zoneinfo.ZoneInfo(zone_name) if zone_name else UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = moment.astimezone(zone)
    label = "UTC" if zone is UTC else local.strftime("%Z")
    return f"{local:%Y-%m-%d %H:%M} {label}"
