"""Participant lists at the hub: the same parsing and validation as a site's
``passport import`` (``passport.importer``), the same diff (``institutions.diff_records``),
then publish, review and rollback on PostgreSQL. A published version or a rollback moves
the bundle to its next sequence (``hubstore``), so sites get it with their next sync.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from passport import hubstore
from passport.hub import HubError
from passport.importer import ListValidationError, ParsedList, parse_bytes, parse_file
from passport.institutions import diff_records, places_by_town
from passport.rules import DEFAULT_PROFILE_NAME, Profile

__all__ = ["ListValidationError", "UnknownProgram", "UnknownVersion", "diff", "import_bytes",
           "import_file", "programs", "rollback", "versions"]


class UnknownProgram(HubError):
    """No program profile of that name at the hub."""


class UnknownVersion(HubError):
    """No list version of that number for that program."""


class SitesRemoved(HubError):
    """The list leaves out enrolled sites that are on the active one: every visit at their
    desks would be denied "not participating" after their next sync. Publishing it needs a
    confirmation (``allow_site_removal``)."""


def _removed_sites(pool: hubstore.Pool, diff_: dict) -> list[str]:
    """Enrolled sites the new list leaves out (they are on the active one)."""
    removed = {r["id"] for r in diff_["removed"]}
    return sorted(r["site_id"] for r in hubstore.site_rows(pool)
                  if r["enrolled_at"] is not None and r["site_id"] in removed)


def _removal_warning(sites: list[str]) -> str:
    return (f"the list leaves out enrolled site(s) {', '.join(sites)}: after their next sync "
            "every visit at their desks is denied as not participating")


def programs(pool: hubstore.Pool) -> list[dict]:
    """Every program: ``{"name", "title", "active_list_version", "row"}`` (``row``: the
    profile as a site's store holds it) in the programs' order."""
    return [{"name": r["name"], "title": r["row"].get("title"),
             "active_list_version": r["active_list_version"], "row": r["row"]}
            for r in hubstore.profile_rows(pool)]


def _program_row(pool: hubstore.Pool, program: str) -> dict:
    for row in programs(pool):
        if row["name"] == program:
            return row
    known = ", ".join(p["name"] for p in programs(pool)) or "none: run `passport hub init`"
    raise UnknownProgram(f"no program named {program!r} at the hub (known: {known})")


def _active(pool: hubstore.Pool, program: str) -> int | None:
    return _program_row(pool, program)["active_list_version"]


def _by_town(pool: hubstore.Pool, program: str) -> bool:
    """Whether rows without a point may be placed at their town (as a site's import)."""
    return places_by_town(Profile.from_row(_program_row(pool, program)["row"]))


def publish_parsed(pool: hubstore.Pool, parsed: ParsedList, *, program: str, dry_run: bool,
                   actor: str | None, allow_site_removal: bool = False) -> dict[str, Any]:
    """Diff ``parsed`` against the program's active list and (unless ``dry_run``) publish
    it as the next version: ``{"program", "version", "previous_version", "dry_run",
    "row_count", "source_name", "sha256", "warnings", "diff"}`` (a site import's shape)."""
    previous = _active(pool, program)
    old_rows = hubstore.institution_rows(pool, previous) if previous is not None else []
    diff_ = diff_records(old_rows, parsed.records)
    diff_.update({"from": previous, "to": None})
    warnings = list(parsed.warnings)
    if previous is not None:
        row = hubstore.get_list_version_row(pool, previous)
        if row and row["source_sha256"] == parsed.sha256:
            warnings.append(f"the file is identical to the active version {previous}")
    dropped = _removed_sites(pool, diff_)
    if dropped:
        warnings.append(_removal_warning(dropped))
        if not dry_run and not allow_site_removal:
            raise SitesRemoved(_removal_warning(dropped) + "; confirm to publish it anyway "
                               "(--allow-site-removal)")
    version = None
    if not dry_run:
        version, previous = hubstore.publish_list(
            pool, profile=program, records=parsed.records, source_name=parsed.source_name,
            source_sha256=parsed.sha256, actor=actor)
        diff_["to"] = version
    return {"program": program, "version": version, "previous_version": previous,
            "dry_run": dry_run, "row_count": len(parsed.records),
            "source_name": parsed.source_name, "sha256": parsed.sha256,
            "warnings": warnings, "diff": diff_}


def import_file(pool: hubstore.Pool, path: str | Path, *, program: str = DEFAULT_PROFILE_NAME,
                dry_run: bool = False, actor: str | None = None,
                allow_site_removal: bool = False) -> dict[str, Any]:
    """Validate the file like ``passport import`` and publish it at the hub; raises
    ``ListValidationError`` (every row's problem) and writes nothing when it is not valid."""
    by_town = _by_town(pool, program)  # an unknown program fails before the file is read
    return publish_parsed(pool, parse_file(path, place_by_town=by_town), program=program,
                          dry_run=dry_run, actor=actor, allow_site_removal=allow_site_removal)


def import_bytes(pool: hubstore.Pool, data: bytes, filename: str, *,
                 program: str = DEFAULT_PROFILE_NAME, dry_run: bool = False,
                 actor: str | None = None, allow_site_removal: bool = False) -> dict[str, Any]:
    """``import_file`` for an upload's bytes."""
    by_town = _by_town(pool, program)
    return publish_parsed(pool, parse_bytes(data, filename, place_by_town=by_town),
                          program=program, dry_run=dry_run, actor=actor,
                          allow_site_removal=allow_site_removal)


def versions(pool: hubstore.Pool, program: str = DEFAULT_PROFILE_NAME) -> list[dict]:
    """Every version of ``program``, newest first (``active`` marks the published one)."""
    _active(pool, program)
    return [{**row, "created_at": row["created_at"].isoformat()}
            for row in hubstore.list_version_rows(pool, program)]


def _check_version(pool: hubstore.Pool, version: int, program: str) -> None:
    row = hubstore.get_list_version_row(pool, version)
    if row is None or row["profile"] != program:
        raise UnknownVersion(f"list version {version} of {program!r} does not exist at the hub")


def diff(pool: hubstore.Pool, a: int, b: int, program: str = DEFAULT_PROFILE_NAME) -> dict:
    """What changed from version ``a`` to ``b``."""
    for version in (a, b):
        _check_version(pool, version, program)
    result = diff_records(hubstore.institution_rows(pool, a), hubstore.institution_rows(pool, b))
    result.update({"from": a, "to": b})
    return result


def rollback(pool: hubstore.Pool, version: int, program: str = DEFAULT_PROFILE_NAME,
             actor: str | None = None) -> dict:
    """Re-activate ``version``: ``{"program", "active", "previous"}``."""
    _active(pool, program)
    _check_version(pool, version, program)
    previous = hubstore.activate_list_version(pool, program, version, actor)
    return {"program": program, "active": version, "previous": previous}


# --------------------------------------------------------------------------- drafts (pages)

def save_draft(pool: hubstore.Pool, data: bytes, filename: str, *, program: str,
               actor: str | None) -> tuple[int, dict]:
    """Validate an upload and keep it for review: (draft id, the dry run's result). Raises
    ``ListValidationError`` and keeps nothing when the file is not valid."""
    result = import_bytes(pool, data, filename, program=program, dry_run=True, actor=actor)
    return hubstore.insert_list_draft(pool, program, filename, data, actor), result


def review_draft(pool: hubstore.Pool, draft_id: int) -> dict:
    """The dry run of a kept upload (against the list active now)."""
    draft = _draft(pool, draft_id)
    return import_bytes(pool, bytes(draft["body"]), draft["source_name"],
                        program=draft["profile"], dry_run=True)


def publish_draft(pool: hubstore.Pool, draft_id: int, actor: str | None,
                  allow_site_removal: bool = False) -> dict:
    """Publish a kept upload and forget it."""
    draft = _draft(pool, draft_id)
    result = import_bytes(pool, bytes(draft["body"]), draft["source_name"],
                          program=draft["profile"], actor=actor,
                          allow_site_removal=allow_site_removal)
    hubstore.delete_list_draft(pool, draft_id)
    return result


def _draft(pool: hubstore.Pool, draft_id: int) -> dict:
    draft = hubstore.get_list_draft(pool, draft_id)
    if draft is None:
        raise UnknownVersion(f"no uploaded list {draft_id} waiting for review")
    return draft
