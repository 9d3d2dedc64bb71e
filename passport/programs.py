"""The program catalogue: which reciprocal programs this store knows, and adding one.

A program is a profile row (``passport.rules.Profile``) and a list: adding a program is data,
not code. ``programs(db)`` lists them in their order (ASTC first, then the shipped NARM,
AZA, ROAM, AHS and ACM profiles, then those admins added); ``to_json`` is the one JSON shape
of a program for the CLI, the API and the pages; ``add_program`` validates and adds one,
recorded in the audit log.

The distance rule of an added program follows from its radius: a radius above 0 is
``home`` (the member's home institution must be farther away), or ``home_and_residence``
with the residence rule; radius 0 is ``none``, or ``per_site`` when the list's own terms
carry each site's distance (NARM's symbols).
"""

from __future__ import annotations

import math
import re
import sqlite3
from typing import Any

import sqlite_utils

from passport import audit, store
from passport.rules import BENEFITS, Profile

PROGRAM_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")  # short: it names codes and pages
MAX_TITLE_CHARS = 200
MAX_RADIUS_MILES = 1000.0
# The party an added program covers until an admin changes it: the host defines family;
# most programs name 2 adults and their children (the shipped NARM/AZA/ROAM profiles).
DEFAULT_LIMITS = {"group": (2, 4), "individual": (1, 0)}


class ProgramError(ValueError):
    """A program cannot be added as given (the message names the bad value)."""


class UnknownProgram(LookupError):
    """No program of that id."""


def programs(db: sqlite_utils.Database) -> list[Profile]:
    """Every program, in the programs' order (``sort_order``, then id)."""
    return [Profile.from_row(row) for row in store.program_rows(db)]


def get_program(db: sqlite_utils.Database, program_id: str) -> Profile:
    row = store.get_profile_row(db, program_id)
    if row is None:
        known = ", ".join(p.name for p in programs(db))
        raise UnknownProgram(f"no program {program_id!r} (programs: {known})")
    return Profile.from_row(row)


def to_json(profile: Profile, db: sqlite_utils.Database) -> dict[str, Any]:
    """A program as JSON: its rules, its list's validity and its active list (version and
    how many institutions; None for both while it has none)."""
    row = store.get_profile_row(db, profile.name) or {}
    version = row.get("active_list_version")
    count = None
    if version is not None:
        count = (store.get_list_version_row(db, version) or {}).get("row_count")
    return {
        "id": profile.name, "name": profile.title, "radius_miles": profile.radius_miles,
        "residence_rule": profile.residence_rule, "distance_rule": profile.distance_rule,
        "benefit": profile.benefit, "discount_percent": profile.discount_percent,
        "card_mark": profile.card_mark, "min_membership": profile.min_membership,
        "membership_limits": {kind: list(limits)
                              for kind, limits in profile.membership_limits.items()},
        "valid_from": profile.valid_from, "valid_until": profile.valid_until,
        "list_version": version, "institution_count": count,
    }


def catalogue(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """``to_json`` of every program, in order (``passport programs --json``)."""
    return [to_json(profile, db) for profile in programs(db)]


def _check_id(program_id: Any) -> str:
    if not isinstance(program_id, str) or not PROGRAM_ID.fullmatch(program_id):
        raise ProgramError(f"program id {str(program_id)[:40]!r} must be 1-20 lowercase "
                           "letters, digits or '-', starting with a letter or digit")
    return program_id


def _check_radius(radius_miles: Any) -> float:
    try:
        radius = float(radius_miles)
    except (TypeError, ValueError):
        raise ProgramError(f"radius {radius_miles!r} is not a number of miles") from None
    if not math.isfinite(radius) or not 0.0 <= radius <= MAX_RADIUS_MILES:
        raise ProgramError(f"radius {radius_miles!r} must be 0-{MAX_RADIUS_MILES:g} miles")
    return radius


def distance_rule_of(radius_miles: float, residence_rule: bool, per_site: bool) -> str:
    """The distance rule an added program's options mean (module docstring)."""
    if radius_miles > 0:
        if per_site:
            raise ProgramError("per-site distances are for a program without a program "
                               "radius (--radius-miles 0)")
        return "home_and_residence" if residence_rule else "home"
    if residence_rule:
        raise ProgramError("the residence rule needs a radius: give --radius-miles above 0")
    return "per_site" if per_site else "none"


def _check_benefit(benefit: str, discount_percent: Any) -> float | None:
    if benefit not in BENEFITS:
        raise ProgramError(f"benefit {benefit!r} is not one of {', '.join(BENEFITS)}")
    if discount_percent is None:
        if benefit == "discount":
            raise ProgramError("a discount benefit needs its percent (--discount-percent)")
        return None
    if benefit != "discount":
        raise ProgramError("a discount percent goes with the benefit 'discount'")
    try:
        percent = float(discount_percent)
    except (TypeError, ValueError):
        raise ProgramError(f"discount {discount_percent!r} is not a number") from None
    if not 0.0 < percent <= 100.0:
        raise ProgramError(f"discount {discount_percent!r} must be above 0 and at most 100")
    return percent


def _check_text(label: str, value: str | None, required: bool = False) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise ProgramError(f"the program's {label} is empty")
    if len(text) > MAX_TITLE_CHARS:
        raise ProgramError(f"the program's {label} has more than {MAX_TITLE_CHARS} characters")
    return text or None


def add_program(db: sqlite_utils.Database, program_id: str, name: str, *,
                radius_miles: float, residence_rule: bool = False, per_site: bool = False,
                benefit: str = "general_admission", discount_percent: float | None = None,
                card_mark: str | None = None, min_membership: str | None = None,
                actor: str | None = None) -> Profile:
    """Validate and add a program (no list yet: import one with ``--program``); records
    ``program.added``. Raises ``ProgramError`` naming the bad value and writes nothing."""
    _check_id(program_id)
    radius = _check_radius(radius_miles)
    row = {
        "name": program_id, "title": _check_text("name", name, required=True),
        "radius_miles": radius, "residence_rule": int(bool(residence_rule)),
        "distance_rule": distance_rule_of(radius, residence_rule, per_site),
        "benefit": benefit, "discount_percent": _check_benefit(benefit, discount_percent),
        "card_mark": _check_text("card mark", card_mark),
        "min_membership": _check_text("minimum membership", min_membership),
    }
    for kind, (adults, children) in DEFAULT_LIMITS.items():
        row[f"{kind}_max_adults"], row[f"{kind}_max_children"] = adults, children
    if store.get_profile_row(db, program_id) is not None:
        raise ProgramError(f"program {program_id!r} exists already")
    try:
        store.insert_profile(db, row)
    except sqlite3.IntegrityError:  # added by another process since the check above
        raise ProgramError(f"program {program_id!r} exists already") from None
    audit.record(db, actor, "program.added", program_id,
                 {"title": row["title"], "radius_miles": radius,
                  "distance_rule": row["distance_rule"], "benefit": benefit})
    return get_program(db, program_id)
