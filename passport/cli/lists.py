"""CLI commands: participant lists (import, versions, diff, rollback, institutions)."""

from __future__ import annotations

from pathlib import Path

import click

from passport import audit, institutions, ownsite
from passport.cli import main
from passport.cli.common import emit, fail, json_option, open_store
from passport.importer import parse_file
from passport.rules import DEFAULT_PROFILE_NAME

DIFF_LINES_PER_KIND = 20  # the full diff is in --json

program_option = click.option(
    "--program", default=DEFAULT_PROFILE_NAME, show_default=True, metavar="ID",
    help="The program whose list this is (see `passport programs`).")


def _check_program(db, program: str) -> None:
    """Fail in one line (closing the store) when ``program`` is not a program."""
    try:
        institutions.get_profile(db, program)
    except institutions.UnknownProfile as exc:
        db.close()
        fail(f"{exc} (see `passport programs`)")


def _diff_text(diff: dict) -> str:
    s = diff["summary"]
    lines = [f"{s['added']} added, {s['removed']} removed, {s['renamed']} renamed, "
             f"{s['moved']} moved, {s['terms_changed']} terms changed, "
             f"{s['details_changed']} details changed, {s['unchanged']} unchanged"]

    def some(kind: str, render) -> None:
        rows = diff[kind]
        lines.extend(render(r) for r in rows[:DIFF_LINES_PER_KIND])
        if len(rows) > DIFF_LINES_PER_KIND:
            lines.append(f"  ... and {len(rows) - DIFF_LINES_PER_KIND} more ({kind}; "
                         "see --json)")

    def changes(r: dict) -> str:
        return f"  ~ {r['id']}  " + ", ".join(f"{k}: {v['old']!r} -> {v['new']!r}"
                                               for k, v in r["changes"].items())

    some("added", lambda r: f"  + {r['id']}  {r['name']}")
    some("removed", lambda r: f"  - {r['id']}  {r['name']}")
    some("renamed", lambda r: f"  ~ {r['id']}  renamed {r['old_name']!r} -> {r['new_name']!r}")
    some("moved", lambda r: f"  ~ {r['id']}  moved {r['moved_miles']:.2f} miles")
    some("terms_changed", changes)
    some("details_changed", changes)
    if diff.get("crosswalk"):  # confirmed crosswalk links this change calls into question
        some("crosswalk", lambda r: f"  ! {r['id']}  {r['change']}: re-check its crosswalk "
             f"link to {r['linked']['program']}:{r['linked']['id']}")
    return "\n".join(lines)


@main.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and show the diff; publish nothing.")
@click.option("--actor", default=None,
              help="Who publishes (recorded with the version; default cli:<OS user>).")
@click.option("--allow-site-removal", is_flag=True,
              help="Publish even though the list leaves out this kiosk's own site.")
@program_option
@json_option
def import_cmd(file: Path, dry_run: bool, actor: str | None, allow_site_removal: bool,
               program: str, as_json: bool) -> None:
    """Import a participant list (CSV, XLSX or JSON) as the next active version.

    The file is the program's whole list: it replaces the active list. Every problem is
    reported with its row (header = row 1) and column, and nothing is published unless the
    whole file is valid. --dry-run validates and shows the changes only.

    A list without this kiosk's own site (the admin console's setting, else
    $PASSPORT_SITE) would make every check at its desks a denial: the dry run warns, and
    publishing it fails unless --allow-site-removal.

    --program names another program's list (NARM, AZA, one added with `passport programs
    add`); its own columns (symbols, benefit, phone) become that list's terms.

    \b
    Example:
      passport import data/institutions.csv --dry-run
      passport import data/narm_2026.csv --program narm --json
    """
    if not file.exists():
        fail(f"no such file: {file}")
    place_by_town = False
    if program != DEFAULT_PROFILE_NAME:  # the default program needs no store to parse
        db = open_store()
        _check_program(db, program)
        place_by_town = institutions.places_by_town(institutions.get_profile(db, program))
        db.close()
    try:
        # before publishing: a bad file writes nothing
        parsed = parse_file(file, place_by_town=place_by_town)
    except institutions.ListValidationError as exc:
        if as_json:
            emit({"ok": False, "errors": [e._asdict() for e in exc.errors]}, True)
        else:
            for error in exc.errors:
                click.echo(str(error))
        fail(f"{len(exc.errors)} problem(s) in {file.name}; nothing was published")
    db = open_store()
    try:
        result = institutions.publish_parsed(
            db, parsed, dry_run=dry_run, actor=actor or audit.cli_actor(), profile=program,
            own_site=ownsite.own_site_from_environment(db),
            allow_site_removal=allow_site_removal)
    except ownsite.OwnSiteRemoved as exc:
        fail(f"{exc} (--allow-site-removal); nothing was published")
    finally:
        db.close()

    label = "" if program == DEFAULT_PROFILE_NAME else f"{program} "

    def text(r: institutions.ImportResult) -> str:
        head = (f"Dry run: {r.row_count} institutions are valid; nothing was published."
                if r.dry_run else
                f"Published {label}list version {r.version} ({r.row_count} institutions); "
                f"previous active version: {r.previous_version}.")
        warnings = [f"Warning: {w}" for w in r.warnings]
        return "\n".join([head, *warnings, _diff_text(r.diff)])

    emit(result.to_json(), as_json, lambda _: text(result))


@main.command()
@program_option
@json_option
def versions(program: str, as_json: bool) -> None:
    """List the participant-list versions, newest first; * marks the active one.

    Example: passport versions --program narm --json
    """
    db = open_store(must_exist=True)
    _check_program(db, program)
    try:
        rows = institutions.list_versions(db, program)
    finally:
        db.close()

    def text(rs: list[dict]) -> str:
        if not rs:
            return "No list imported yet: passport import FILE"
        return "\n".join(
            f"{'*' if r['active'] else ' '} {r['version']:>4}  {r['created_at'][:19]}  "
            f"{r['row_count']:>5} rows  {r['source_name'] or ''}  {r['created_by'] or ''}"
            for r in rs)

    emit({"versions": rows}, as_json, lambda p: text(p["versions"]))


@main.command()
@click.argument("a", type=int)
@click.argument("b", type=int)
@program_option
@json_option
def diff(a: int, b: int, program: str, as_json: bool) -> None:
    """Show what changed from list version A to version B.

    Added, removed, renamed, moved (with the distance moved in miles), and changes to the
    site terms (restrictions, proof of residence, local radius, ...) and other details.

    Example: passport diff 1 2
    """
    db = open_store(must_exist=True)
    _check_program(db, program)
    try:
        result = institutions.diff_versions(db, a, b, program)
    except institutions.UnknownListVersion as exc:
        fail(str(exc))
    finally:
        db.close()
    emit(result, as_json, _diff_text)


@main.command()
@click.argument("version", type=int)
@click.option("--actor", default=None,
              help="Who rolls back (recorded in the history; default cli:<OS user>).")
@click.option("--allow-site-removal", is_flag=True,
              help="Activate even though that version leaves out this kiosk's own site.")
@program_option
@json_option
def rollback(version: int, actor: str | None, allow_site_removal: bool, program: str,
             as_json: bool) -> None:
    """Re-activate an earlier participant-list version.

    A version without this kiosk's own site is refused unless --allow-site-removal (as
    for passport import). `passport diff` shows what the switch changes.

    Example: passport rollback 3
    """
    db = open_store(must_exist=True)
    _check_program(db, program)
    try:
        result = institutions.rollback(db, version, actor=actor or audit.cli_actor(),
                                       profile=program,
                                       own_site=ownsite.own_site_from_environment(db),
                                       allow_site_removal=allow_site_removal)
    except institutions.UnknownListVersion as exc:
        fail(str(exc))
    except ownsite.OwnSiteRemoved as exc:
        fail(f"{exc} (--allow-site-removal); nothing was changed")
    finally:
        db.close()
    emit(result, as_json,
         lambda r: f"List version {r['active']} is active (was {r['previous']}).")


@main.command("institutions")
@click.option("--search", "text", default=None, help="Text in the id, name, city, region or "
                                                     "postal code.")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most N rows.")
@program_option
@json_option
def institutions_cmd(text: str | None, limit: int | None, program: str, as_json: bool) -> None:
    """List the institutions of the active list, or those matching --search.

    \b
    Example:
      passport institutions --search "science center" --limit 5 --json
      passport institutions --program narm --search berkeley
    """
    db = open_store(must_exist=True)
    _check_program(db, program)
    try:
        version = institutions.active_version(db, program)
        rows = institutions.search(db, text, limit, profile=program)
    except institutions.NoActiveList as exc:
        fail(str(exc))
    finally:
        db.close()
    emit({"list_version": version, "institutions": rows}, as_json,
         lambda p: "\n".join(f"{r['id']:<60} {r['name']} ({r['city']}, "
                             f"{r['region'] or r['country']})" for r in p["institutions"])
         or "No match.")
