"""Participant lists: import, versions, atomic publish, dry run, rollback, diff, search.

Each successful import is a new list version. Publishing is one transaction: the rows, the
version and the profile's active version change together or not at all, so a failed or
partial import leaves the previous version active. ``load_active`` builds the engine's
InstitutionTable once per (store file, profile, version) and caches it; the check-in hot
path then runs on memory only.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from passport import audit, ownsite, store
from passport.importer import (
    ListValidationError,
    ParsedList,
    RowError,
    inert,
    parse_bytes,
    parse_file,
)
from passport.memo import BoundedCache
from passport.rules import DEFAULT_PROFILE_NAME, Profile
from passport.search import SearchIndex

__all__ = [
    "ActiveList", "ImportResult", "ListValidationError", "NoActiveList", "RowError",
    "UnknownListVersion", "count", "diff_records", "diff_versions", "ensure_default_list",
    "ensure_default_lists", "export_csv",
    "get_profile", "import_bytes", "import_file", "list_versions", "load_active", "load_actives",
    "rollback",
    "search",
]

log = logging.getLogger(__name__)

DEFAULT_LIST_PATH = Path(__file__).resolve().parents[1] / "data" / "institutions.csv"
# The lists shipped in data/, by program: ``ensure_default_lists`` loads each one whose
# program has no list yet (a fresh machine's first ``serve --load-default``).
DEFAULT_LIST_PATHS = {
    DEFAULT_PROFILE_NAME: DEFAULT_LIST_PATH,
    "narm": DEFAULT_LIST_PATH.with_name("narm_2026.csv"),
    "aza": DEFAULT_LIST_PATH.with_name("aza_reciprocity.csv"),
}
TERMS_FIELDS = ("restrictions", "proof_of_residence", "local_radius_miles",
                "local_discount_percent", "reservation_required", "store_discount_only",
                "symbols", "site_home_within_miles", "reciprocal_restriction",
                "events_excluded", "excluded_venue", "benefit_tier")
DETAIL_FIELDS = ("address", "city", "region", "country", "postal_code", "website", "timezone",
                 "phone")
# Above this many rows the pairwise distance matrix costs too much (n^2 exact geodesics and
# floats: NARM's 1,543 rows took 2.5 s of start-up and 19 MB); decisions then compute the
# pair distance with one exact geodesic (microseconds). ASTC's 368 rows keep their matrix.
DISTANCE_MATRIX_MAX_ROWS = 1000


class NoActiveList(LookupError):
    """No participant list is published for this program profile yet."""


class UnknownListVersion(LookupError):
    """The requested list version does not exist for this profile."""


class UnknownProfile(LookupError):
    """The program profile does not exist."""


@dataclass(frozen=True, eq=False)
class ActiveList:
    """One list version in memory: the engine table, full rows by id, the program profile."""

    version: int
    profile: Profile
    table: Any  # engine.InstitutionTable
    by_id: dict[str, dict]
    records: list[dict]
    pair_miles: np.ndarray | None = field(default=None, repr=False)

    def distance_miles(self, id_a: str, id_b: str) -> float:
        """Exact geodesic miles between two listed institutions (precomputed when possible)."""
        if self.pair_miles is not None:
            return float(self.pair_miles[self.table.index_of(id_a), self.table.index_of(id_b)])
        return self.table.distance_between(id_a, id_b)

    @functools.cached_property
    def search_index(self) -> SearchIndex:
        """The words of every row, for ``search`` (built on first use, once per version)."""
        return SearchIndex.build(self.records)

    def timezone_of(self, institution_id: str) -> str | None:
        row = self.by_id.get(institution_id)
        return row.get("timezone") if row else None


@dataclass
class ImportResult:
    """What an import did (or, for a dry run, would do)."""

    version: int | None
    previous_version: int | None
    dry_run: bool
    row_count: int
    source_name: str
    sha256: str
    diff: dict
    warnings: list[str]
    # this kiosk's own site when the list leaves it out (publishing needs a confirmation)
    own_site_removed: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version, "previous_version": self.previous_version,
            "dry_run": self.dry_run, "row_count": self.row_count,
            "source_name": self.source_name, "sha256": self.sha256,
            "warnings": list(self.warnings), "own_site_removed": self.own_site_removed,
            "diff": self.diff,
        }


# --------------------------------------------------------------------------- profiles

def _profile_row(db: sqlite_utils.Database, name: str) -> dict:
    row = store.get_profile_row(db, name)
    if row is None:
        raise UnknownProfile(f"no program profile named {name!r}")
    return row


def get_profile(db: sqlite_utils.Database, name: str = DEFAULT_PROFILE_NAME) -> Profile:
    return Profile.from_row(_profile_row(db, name))


# --------------------------------------------------------------------------- active list

# (store file, profile row) -> its active list; a few stores and profiles per process
_active_lists: BoundedCache[tuple, ActiveList] = BoundedCache(16)
# The last list served, checked before the cache (a tuple compare on the hot path).
_last_active: tuple[tuple | None, ActiveList | None] = (None, None)


# The file behind each open handle, asked once per handle (load_active runs per request).
_db_files: weakref.WeakKeyDictionary[sqlite_utils.Database, str] = weakref.WeakKeyDictionary()


def _db_file(db: sqlite_utils.Database) -> str:
    name = _db_files.get(db)
    if name is None:
        row = db.execute("PRAGMA database_list").fetchone()
        name = _db_files[db] = row[2] or f"memory:{id(db)}"
    return name


def build_active_list(version: int, profile: Profile, rows: list[dict]) -> ActiveList:
    """The in-memory form of one list version (engine table, pair distances, rows by id)."""
    # engine imports numba, slow to load: only commands that build a table pay for it.
    from engine import InstitutionTable

    table = InstitutionTable.from_records(rows, radius_miles=profile.radius_miles)
    pair = None
    if len(rows) <= DISTANCE_MATRIX_MAX_ROWS:
        pair = np.vstack([table.distances_from(r["latitude"], r["longitude"]) for r in rows])
        pair.setflags(write=False)
    return ActiveList(version=version, profile=profile, table=table,
                      by_id={r["id"]: r for r in rows}, records=rows, pair_miles=pair)


def load_active(db: sqlite_utils.Database, profile: str = DEFAULT_PROFILE_NAME) -> ActiveList:
    """The active list of ``profile``; built once per (store file, version), then cached.

    Costs one small query (which version is active); raises ``NoActiveList`` when none is.
    """
    row = _profile_row(db, profile)
    if row["active_list_version"] is None:
        option = "" if profile == DEFAULT_PROFILE_NAME else f" --program {profile}"
        raise NoActiveList(f"no participant list is published for {profile!r}; "
                           f"import one with `passport import FILE{option}`")
    return _active_for_row(db, row)


def load_actives(db: sqlite_utils.Database) -> list[ActiveList]:
    """The active list of every program that has one, in the programs' order (one small
    query; each list cached as by ``load_active``)."""
    columns, rows = store.active_profile_rows(db)
    key = (_db_file(db), tuple(rows))
    hit = _all_actives.get(key)
    if hit is None:
        hit = [_active_for_row(db, dict(zip(columns, row, strict=True))) for row in rows]
        _all_actives.put(key, hit)
    return hit


# (store file, every active profile row) -> their active lists, in order
_all_actives: BoundedCache[tuple, list[ActiveList]] = BoundedCache(8)


def _active_for_row(db: sqlite_utils.Database, row: dict) -> ActiveList:
    # The whole profile row is in the key (SELECT * keeps the columns' order): a changed
    # radius or party rule builds anew.
    key = (_db_file(db), tuple(row.values()))
    last_key, last = _last_active
    if last_key == key:  # the usual case, one store at one version: no lock, no reorder
        return last
    hit = _active_lists.get(key)
    if hit is None:
        version = row["active_list_version"]
        hit = build_active_list(version, Profile.from_row(row),
                                store.get_institution_rows(db, version))
        _active_lists.put(key, hit)
    _remember_last(key, hit)
    return hit


def _remember_last(key: tuple, active: ActiveList) -> None:
    global _last_active
    _last_active = (key, active)  # one assignment: readers see the old pair or the new


def active_version(db: sqlite_utils.Database, profile: str = DEFAULT_PROFILE_NAME) -> int | None:
    return store.get_active_list_version(db, profile)


# --------------------------------------------------------------------------- import

def import_file(db: sqlite_utils.Database, path: str | Path, dry_run: bool = False,
                actor: str | None = None, profile: str = DEFAULT_PROFILE_NAME, *,
                own_site: str | None = None, allow_site_removal: bool = False) -> ImportResult:
    """Validate the file and (unless ``dry_run``) publish it as the next active version.

    Raises ``ListValidationError`` (``.errors``: every RowError) and writes nothing when
    the file has any problem; ``own_site`` / ``allow_site_removal`` as in ``publish_parsed``.
    """
    parsed = parse_file(path, place_by_town=places_by_town(get_profile(db, profile)))
    return publish_parsed(db, parsed, dry_run=dry_run, actor=actor, profile=profile,
                          own_site=own_site, allow_site_removal=allow_site_removal)


def import_bytes(db: sqlite_utils.Database, data: bytes, filename: str, dry_run: bool = False,
                 actor: str | None = None, profile: str = DEFAULT_PROFILE_NAME, *,
                 own_site: str | None = None, allow_site_removal: bool = False) -> ImportResult:
    """Same as ``import_file`` for an uploaded file's bytes (the admin page)."""
    parsed = parse_bytes(data, filename, place_by_town=places_by_town(get_profile(db, profile)))
    return publish_parsed(db, parsed, dry_run=dry_run, actor=actor, profile=profile,
                          own_site=own_site, allow_site_removal=allow_site_removal)


def places_by_town(profile: Profile) -> bool:
    """Whether a list row without coordinates may be placed at its town's centre: only for
    a program without a program radius (a town's centre is too rough at a boundary)."""
    return not profile.has_radius


def publish_parsed(db: sqlite_utils.Database, parsed: ParsedList, *, dry_run: bool,
                   actor: str | None, profile: str = DEFAULT_PROFILE_NAME,
                   own_site: str | None = None,
                   allow_site_removal: bool = False) -> ImportResult:
    """Publish (or dry-run) a parsed list. When the list leaves out ``own_site`` (this
    kiosk's own site, ``passport.ownsite``) the result names it in a warning and
    ``own_site_removed``, and publishing raises ``OwnSiteRemoved``, writing nothing, unless
    ``allow_site_removal``. The kiosk's site is an id of the default program's list (other
    lists have their own ids), so only that list is checked for it."""
    get_profile(db, profile)
    own_site = own_site if profile == DEFAULT_PROFILE_NAME else None
    previous = store.get_active_list_version(db, profile)
    old_rows = store.get_institution_rows(db, previous) if previous is not None else []
    diff = diff_records(old_rows, parsed.records)
    diff.update({"from": previous, "to": None, "crosswalk": _crosswalk_recheck(db, profile, diff)})
    warnings = list(parsed.warnings)
    if previous is not None:
        previous_row = store.get_list_version_row(db, previous)
        if previous_row and previous_row["source_sha256"] == parsed.sha256:
            warnings.append(f"the file is identical to the active version {previous}")
    removed = own_site if ownsite.missing_from(own_site, parsed.records) else None
    if removed:
        name = _name_in(old_rows, removed)
        warnings.append(ownsite.removal_warning(removed, name))  # last: the review page's alert
        if not dry_run and not allow_site_removal:
            raise ownsite.OwnSiteRemoved(removed, name, "this list")
    version = None
    if not dry_run:
        version, previous = store.publish_list(
            db, profile=profile, records=parsed.records, source_name=parsed.source_name,
            source_sha256=parsed.sha256, actor=actor)
        diff["to"] = version
        log.info("published list version %s (%d rows) for %s", version,
                 len(parsed.records), profile)
        audit.record(db, actor, "list.published", str(version),
                     {"profile": profile, "previous_version": previous,
                      "rows": len(parsed.records), "source_name": parsed.source_name,
                      "own_site_removed": removed})
    return ImportResult(version=version, previous_version=previous, dry_run=dry_run,
                        row_count=len(parsed.records), source_name=parsed.source_name,
                        sha256=parsed.sha256, diff=diff, warnings=warnings,
                        own_site_removed=removed)


def _name_in(rows: list[dict], institution_id: str) -> str | None:
    return next((r["name"] for r in rows if r["id"] == institution_id), None)


def ensure_default_list(db: sqlite_utils.Database, path: str | Path | None = None,
                        profile: str = DEFAULT_PROFILE_NAME) -> int | None:
    """Import the shipped list when no list is active; returns the new version or None."""
    if store.get_active_list_version(db, profile) is not None:
        return None
    result = import_file(db, path or DEFAULT_LIST_PATH, actor="default-list", profile=profile)
    return result.version


def ensure_default_lists(db: sqlite_utils.Database) -> dict[str, int]:
    """``ensure_default_list`` for every shipped list (``DEFAULT_LIST_PATHS``) whose program
    exists and has no list yet; returns the versions published, by program."""
    published = {}
    for profile, path in DEFAULT_LIST_PATHS.items():
        if store.get_profile_row(db, profile) is None:
            continue  # a store whose admins removed or never had that program
        version = ensure_default_list(db, path, profile)
        if version is not None:
            published[profile] = version
    return published


# --------------------------------------------------------------------------- versions

def list_versions(db: sqlite_utils.Database, profile: str = DEFAULT_PROFILE_NAME) -> list[dict]:
    """Every version, newest first: version, created_at, created_by, source_name,
    source_sha256, row_count, note, active (bool)."""
    rows = store.list_version_rows(db, profile)
    for row in rows:
        row["active"] = bool(row["active"])
    return rows


def _check_version(db: sqlite_utils.Database, version: int, profile: str) -> None:
    row = store.get_list_version_row(db, version)
    if row is None:
        raise UnknownListVersion(f"list version {version} does not exist")
    if row["profile"] != profile:  # version numbers are shared by the programs' lists
        raise UnknownListVersion(f"list version {version} is a version of {row['profile']!r}, "
                                 f"not of {profile!r}: add --program {row['profile']}")


def _version_rows(db: sqlite_utils.Database, version: int, profile: str) -> list[dict]:
    _check_version(db, version, profile)
    return store.get_institution_rows(db, version)


def diff_versions(db: sqlite_utils.Database, a: int, b: int,
                  profile: str = DEFAULT_PROFILE_NAME) -> dict:
    """What changed from version ``a`` to version ``b`` (see ``diff_records``)."""
    diff = diff_records(_version_rows(db, a, profile), _version_rows(db, b, profile))
    diff.update({"from": a, "to": b, "crosswalk": _crosswalk_recheck(db, profile, diff)})
    return diff


def review_rollback(db: sqlite_utils.Database, version: int, own_site: str | None = None,
                    profile: str = DEFAULT_PROFILE_NAME) -> dict:
    """What re-activating ``version`` would change, for a confirmation: ``{"version",
    "active", "diff"`` (from the active version to ``version``, see ``diff_records``),
    ``"warnings", "own_site_removed"}``; ``own_site_removed`` names ``own_site`` when the
    version leaves it out (the default program only, as in ``publish_parsed``)."""
    rows = _version_rows(db, version, profile)
    own_site = own_site if profile == DEFAULT_PROFILE_NAME else None
    active = store.get_active_list_version(db, profile)
    active_rows = store.get_institution_rows(db, active) if active is not None else []
    diff = diff_records(active_rows, rows)
    diff.update({"from": active, "to": version,
                 "crosswalk": _crosswalk_recheck(db, profile, diff)})
    removed = own_site if ownsite.missing_from(own_site, rows) else None
    warnings = [ownsite.removal_warning(removed, _name_in(active_rows, removed))] if removed else []
    return {"version": version, "active": active, "diff": diff, "warnings": warnings,
            "own_site_removed": removed}


def rollback(db: sqlite_utils.Database, version: int, actor: str | None = None,
             profile: str = DEFAULT_PROFILE_NAME, *, own_site: str | None = None,
             allow_site_removal: bool = False) -> dict:
    """Re-activate an earlier (or any existing) version; returns {"active", "previous"}.

    Raises ``OwnSiteRemoved`` and changes nothing when the version leaves out ``own_site``,
    unless ``allow_site_removal`` (the default program only, as in ``publish_parsed``)."""
    rows = _version_rows(db, version, profile)
    own_site = own_site if profile == DEFAULT_PROFILE_NAME else None
    if ownsite.missing_from(own_site, rows) and not allow_site_removal:
        active = store.get_active_list_version(db, profile)
        active_rows = store.get_institution_rows(db, active) if active is not None else []
        raise ownsite.OwnSiteRemoved(own_site, _name_in(active_rows, own_site),
                                     f"list version {version}")
    previous = store.activate_list_version(db, profile, version, actor)
    log.info("list version %s re-activated for %s (was %s)", version, profile, previous)
    audit.record(db, actor, "list.rolled_back", str(version),
                 {"profile": profile, "previous_version": previous,
                  "own_site_removed": own_site if ownsite.missing_from(own_site, rows) else None})
    return {"active": version, "previous": previous}


def _crosswalk_recheck(db: sqlite_utils.Database, profile: str, diff: dict) -> list[dict]:
    """The diff's ``crosswalk`` part: confirmed crosswalk links whose entry it removes or
    moves more than a mile, for an admin to re-check (``passport.crosswalk.recheck``)."""
    # Imported here: the crosswalk reads active lists through this module.
    from passport import crosswalk

    return crosswalk.recheck(db, profile, diff)


def diff_records(old: list[dict], new: list[dict]) -> dict:
    """Added, removed, renamed, moved (with miles moved), terms and detail changes by id."""
    from engine import geodesic_miles

    old_by_id = {r["id"]: r for r in old}
    new_by_id = {r["id"]: r for r in new}
    added = [{"id": i, "name": r["name"]} for i, r in new_by_id.items() if i not in old_by_id]
    removed = [{"id": i, "name": r["name"]} for i, r in old_by_id.items() if i not in new_by_id]
    renamed, moved, terms, details = [], [], [], []
    unchanged = 0
    for ident, after in new_by_id.items():
        before = old_by_id.get(ident)
        if before is None:
            continue
        changed = False
        if before["name"] != after["name"]:
            renamed.append({"id": ident, "old_name": before["name"], "new_name": after["name"]})
            changed = True
        if (before["latitude"], before["longitude"]) != (after["latitude"], after["longitude"]):
            moved.append({
                "id": ident, "name": after["name"],
                "moved_miles": geodesic_miles(before["latitude"], before["longitude"],
                                              after["latitude"], after["longitude"]),
                "from": [before["latitude"], before["longitude"]],
                "to": [after["latitude"], after["longitude"]],
            })
            changed = True
        for bucket, fields in ((terms, TERMS_FIELDS), (details, DETAIL_FIELDS)):
            changes = {f: {"old": before.get(f), "new": after.get(f)} for f in fields
                       if before.get(f) != after.get(f)}
            if changes:
                bucket.append({"id": ident, "name": after["name"], "changes": changes})
                changed = True
        unchanged += not changed
    return {
        "added": added, "removed": removed, "renamed": renamed, "moved": moved,
        "terms_changed": terms, "details_changed": details, "unchanged": unchanged,
        "summary": {"added": len(added), "removed": len(removed), "renamed": len(renamed),
                    "moved": len(moved), "terms_changed": len(terms),
                    "details_changed": len(details), "unchanged": unchanged},
    }


# --------------------------------------------------------------------------- reading

def search(db: sqlite_utils.Database, text: str | None = None, limit: int | None = None,
           profile: str = DEFAULT_PROFILE_NAME) -> list[dict]:
    """Active-list institutions matching ``text``, most relevant first (``passport.search``:
    name words, acronyms, city, region, id or postal code, word order free, small typos);
    the whole list in list order when ``text`` is empty."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    active = load_active(db, profile)
    return [dict(active.records[i]) for i in active.search_index.rank(text or "", limit)]


def count(db: sqlite_utils.Database, text: str | None = None,
          profile: str = DEFAULT_PROFILE_NAME) -> int:
    """How many active-list institutions ``search`` finds for ``text`` without a limit."""
    return len(load_active(db, profile).search_index.rank(text or ""))


def _published_version(db: sqlite_utils.Database, profile: str) -> int:
    version = store.get_active_list_version(db, profile)
    if version is None:
        raise NoActiveList(f"no participant list is published for {profile!r}")
    return version


def export_csv(db: sqlite_utils.Database, version: int | None = None,
               profile: str = DEFAULT_PROFILE_NAME) -> str:
    """A version (default: the active one) as CSV, every text cell spreadsheet-safe."""
    if version is None:
        version = _published_version(db, profile)
    rows = _version_rows(db, version, profile)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(store.INSTITUTION_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: inert(v) if v is not None else "" for k, v in row.items()})
    return out.getvalue()
