"""The hub's commands for ``passport`` (entry point ``hub`` in ``passport.commands``):
``passport hub init|key|import|versions|rollback|site|serve|report|admin``. The store is the
PostgreSQL database named by ``$PASSPORT_HUB_DATABASE_URL``; every command takes ``--json``
and fails in one line. (A site's own ``passport hub enrol`` joins this group too.)"""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from kiosk.cli import check_port_free
from passport import hubstore
from passport.auth import AuthError
from passport.cli.common import emit, fail, json_option
from passport.cli.sync import enrol as site_enrol
from passport.hub import HubError, lists, reports, setup, signing, sites, users
from passport.importer import ListValidationError
from passport.rules import DEFAULT_PROFILE_NAME


@click.group()
def hub() -> None:
    """The program office's hub: lists, trust list, enrolled sites, signed bundles, reports.

    Needs $PASSPORT_HUB_DATABASE_URL (postgresql://...). Example: passport hub init
    """


# A site's side of the network (passport/cli/sync.py): `passport hub enrol` needs no hub
# database, only the hub's URL, its public key and a one-time token.
hub.add_command(site_enrol)


def _pool(*, migrated: bool = True) -> hubstore.Pool:
    """The hub database, or one line saying what is missing."""
    try:
        pool = hubstore.open_pool(max_size=1)
    except hubstore.HubStoreError as exc:
        fail(str(exc))
    if migrated and hubstore.schema_version(pool) < len(hubstore.MIGRATIONS):
        pool.close()
        fail("the hub database is not initialised: run `passport hub init` first")
    return pool


@hub.command("init")
@json_option
def init(as_json: bool) -> None:
    """Create or update the hub schema, add the program profiles and, on the first run,
    the hub's signing key (its public key is printed: sites pin it at enrolment).

    Example: PASSPORT_HUB_DATABASE_URL=postgresql://postgres@127.0.0.1/hub passport hub init
    """
    try:
        result = setup.init(_pool(migrated=False))
    except HubError as exc:
        fail(str(exc))
    emit(result, as_json, lambda r: (
        f"Hub schema version {r['schema_version']} (applied now: "
        f"{r['migrations_applied'] or 'none'}); {r['profiles_added']} program(s) added.\n"
        f"Hub key {r['hub_key']['key_id']}{' (new)' if r['hub_key_created'] else ''}: "
        f"{r['hub_key']['public_key']}"))


@hub.command("key")
@click.option("--rotate", is_flag=True, help="Make a new signing key.")
@click.option("--grace-days", type=click.FloatRange(0, 365), default=7.0, show_default=True,
              help="With --rotate: days the old key still signs while sites pin the new one.")
@json_option
def key(rotate: bool, grace_days: float, as_json: bool) -> None:
    """Show the hub's public keys (the first one signs), or rotate.

    Example: passport hub key --rotate --grace-days 7
    """
    pool = _pool()
    try:
        if rotate:
            signing.rotate(pool, timedelta(days=grace_days))
        result = {"hub_keys": signing.current_keys(pool)}
    except HubError as exc:
        fail(str(exc))
    emit(result, as_json, lambda r: "\n".join(
        f"{k['key_id']} {k['public_key']}" for k in r["hub_keys"]))


def _program_option(command):
    return click.option("--program", default=DEFAULT_PROFILE_NAME, show_default=True,
                        help="The program the list belongs to.")(command)


@hub.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@_program_option
@click.option("--dry-run", is_flag=True, help="Validate and diff only; publish nothing.")
@click.option("--allow-site-removal", is_flag=True,
              help="Publish even though the list leaves out enrolled sites.")
@json_option
def import_(file: str, program: str, dry_run: bool, allow_site_removal: bool,
            as_json: bool) -> None:
    """Validate a participant list exactly as `passport import` does and publish it at the
    hub as the program's next version (sites get it with their next sync).

    Example: passport hub import data/institutions.csv --program astc
    """
    try:
        result = lists.import_file(_pool(), file, program=program, dry_run=dry_run,
                                   actor="cli", allow_site_removal=allow_site_removal)
    except ListValidationError as exc:
        fail(f"{file}: {exc}")
    except HubError as exc:
        fail(str(exc))
    s = result["diff"]["summary"]
    emit(result, as_json, lambda r: (
        f"{'Checked' if r['dry_run'] else 'Published'} {r['program']} list"
        f"{'' if r['dry_run'] else ' version ' + str(r['version'])}: {r['row_count']} rows; "
        f"{s['added']} added, {s['removed']} removed, {s['moved']} moved."))


@hub.command("versions")
@_program_option
@json_option
def versions(program: str, as_json: bool) -> None:
    """The program's list versions at the hub, newest first.

    Example: passport hub versions --program astc
    """
    try:
        rows = lists.versions(_pool(), program)
    except HubError as exc:
        fail(str(exc))
    emit({"program": program, "versions": rows}, as_json, lambda p: "\n".join(
        f"{v['version']}\t{v['row_count']} rows\t{v['source_name']}\t"
        f"{'active' if v['active'] else ''}" for v in p["versions"]) or "no versions")


@hub.command("rollback")
@click.argument("version", type=int)
@_program_option
@json_option
def rollback(version: int, program: str, as_json: bool) -> None:
    """Re-activate an earlier list version of the program at the hub.

    Example: passport hub rollback 3 --program astc
    """
    try:
        result = lists.rollback(_pool(), version, program, actor="cli")
    except HubError as exc:
        fail(str(exc))
    emit(result, as_json, lambda r: f"{r['program']}: version {r['active']} active "
                                     f"(was {r['previous']}).")


@hub.group("site")
def site() -> None:
    """Sites of the network (enrolment)."""


@site.command("add")
@click.argument("site_id")
@json_option
def site_add(site_id: str, as_json: bool) -> None:
    """Add a site (its institution id) and print its one-time enrolment token (valid 7
    days; running it again makes a new token, e.g. for a site that lost its credential).

    Example: passport hub site add exploratorium-san-francisco
    """
    try:
        result = sites.add_site(_pool(), site_id, actor="cli")
    except HubError as exc:
        fail(str(exc))
    emit(result, as_json, lambda r: r["token"])


@site.command("list")
@json_option
def site_list(as_json: bool) -> None:
    """The sites and their enrolment state.

    Example: passport hub site list --json
    """
    rows = sites.list_sites(_pool())
    emit({"sites": rows}, as_json, lambda p: "\n".join(
        f"{s['site_id']}\t{'enrolled' if s['enrolled_at'] else 'not enrolled'}\t"
        f"{s['checkins']} check-ins" for s in p["sites"]) or "no sites")


@hub.group("report")
def report() -> None:
    """Reports over the check-ins the sites sent."""


@report.command("visits")
@click.option("--by", default="month", show_default=True,
              help="month, home, visit, reason, balance, or e.g. home,visit,month.")
@click.option("--from", "from_", help="First site-local date YYYY-MM-DD.")
@click.option("--to", help="Last site-local date YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(reports.FORMATS), default="json",
              show_default=True)
@json_option
def report_visits(by: str, from_: str | None, to: str | None, fmt: str, as_json: bool) -> None:
    """Visits across the network (the JSON of a site's `passport report visits`).

    Example: passport hub report visits --by home,visit,month --format csv
    """
    try:
        result = reports.visits(_pool(), by=by, from_=from_, to=to)
    except HubError as exc:
        fail(str(exc))
    if fmt == "csv" and not as_json:
        click.echo(reports.to_csv(result), nl=False)
    else:
        emit(result, True)


@hub.group("admin")
def admin() -> None:
    """Admins of the hub's pages."""


@admin.command("create")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@json_option
def admin_create(username: str, password_stdin: bool, as_json: bool) -> None:
    """Create a hub admin (prompts for the password unless --password-stdin).

    Example: echo 'correct-horse-staple' | passport hub admin create alice --password-stdin
    """
    password = (sys.stdin.readline().rstrip("\r\n") if password_stdin else
                click.prompt("Password", hide_input=True, confirmation_prompt=True))
    try:
        user = users.create_admin(_pool(), username, password)
    except AuthError as exc:
        fail(str(exc))
    emit({"username": user.username, "role": user.role}, as_json,
         lambda u: f"Created hub admin {u['username']}.")


@hub.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Threads per worker (and database connections per worker).")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Run the hub app (API for sites, admin pages) under gunicorn.

    Example: passport hub serve --host 0.0.0.0 --port 8000 --workers 4
    """
    from kiosk.hub.server import HubServer

    check_port_free(host, port)
    pool = _pool()
    try:
        key = signing.check_can_sign(pool)  # the secret that opens it is this process's
    except HubError as exc:
        fail(f"{exc} (the hub's secret: $PASSPORT_SECRET_KEY or the instance folder "
             "where `passport hub init` ran)")
    finally:
        pool.close()
    click.echo(f"Hub key {key['key_id']}; hub ready at http://{host}:{port}/admin "
               f"({workers} workers x {threads} threads; Ctrl-C to stop)")
    sys.stdout.flush()
    HubServer({"bind": f"{host}:{port}", "workers": workers, "threads": threads,
               "worker_class": "gthread", "env": {"PASSPORT_HUB_POOL_SIZE": str(threads)},
               # no control socket in the home folder: several hubs (tests) may run at once
               "control_socket_disable": True}).run()
