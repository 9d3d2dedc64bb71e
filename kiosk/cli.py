"""The kiosk's commands for ``passport`` (entry points ``passport.commands``): ``serve`` (the
kiosk under waitress, or gunicorn with ``--workers``), ``admin`` (staff users) and ``token``
(API tokens)."""

from __future__ import annotations

import socket
import sys
import time

import click

from kiosk import create_app, hubsync
from kiosk.warmup import warm
from passport import audit, auth
from passport.cli.common import emit, fail, json_option, open_store

DEFAULT_ADMIN = "admin"


def check_port_free(host: str, port: int) -> None:
    """Fail in one line, before anything is written or printed, when the port is taken. The
    probe is our own socket: waitress leaks its wake-up socket when its own bind fails."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.create_server((host, port), family=family):
            pass
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def _prepare_store(load_default: bool) -> None:
    """Create and migrate the store, import the shipped list when asked, and create a first
    admin (its password printed once) when there is none. Closed again before serving: no
    connection may cross the fork into gunicorn's workers."""
    db = open_store()
    if load_default:
        from passport import institutions

        started = time.perf_counter()
        published = institutions.ensure_default_lists(db)
        if published:
            lists = ", ".join(f"{program} as version {version}"
                              for program, version in published.items())
            click.echo(f"Imported the shipped participant lists: {lists} "
                       f"({time.perf_counter() - started:.1f} s).")
    if not auth.has_admin(db):
        password = auth.generate_password()
        try:
            auth.create_user(db, DEFAULT_ADMIN, password, role="admin",
                             actor=audit.cli_actor())
        except auth.UserExists:
            click.echo("No enabled admin: create one with "
                       "`passport admin create NAME --role admin`.")
        else:
            click.echo(f"Created admin user {DEFAULT_ADMIN!r} with password: {password}")
            click.echo("  (shown once: keep it safe; add named staff users in /admin)")
    db.close()


def _announce(host: str, port: int, how: str) -> None:
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    click.echo(f"Kiosk ready at http://{shown_host}:{port}/desk  ({how}; Ctrl-C to stop)")
    sys.stdout.flush()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Threads (per worker process).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes: 1 runs waitress; more run gunicorn (about one per core).")
@click.option("--load-default", is_flag=True,
              help="Import the shipped lists (data/: ASTC, NARM, AZA) of the programs "
                   "that have none yet.")
def serve(host: str, port: int, threads: int, workers: int, load_default: bool) -> None:
    """Run the kiosk (desk, member pages, admin, JSON API): one waitress process, or with
    --workers N that many gunicorn worker processes, each warmed up on its own.

    Warms the distance kernels and loads the active list before it accepts requests, so
    the first scan is as fast as the rest. Creates a first admin with a generated password,
    printed once, when there is none. A newly published list is picked up without restart.

    Example: PASSPORT_SITE=exploratorium-san-francisco passport serve --load-default
    """
    check_port_free(host, port)
    # Built before any worker starts: it creates the instance's secret-key file once, which
    # every worker then reads (workers creating it at the same moment could differ).
    app = create_app()
    if workers > 1:
        from kiosk.workers import serve_workers

        _prepare_store(load_default)
        click.echo(f"Database: {app.config['DB']}")
        serve_workers(host, port, workers, threads, lambda bound: _announce(
            host, bound, f"{workers} worker processes"))
        return
    import waitress

    server = waitress.create_server(app, host=host, port=port, threads=threads,
                                    ident="passport")
    _prepare_store(load_default)
    info = warm(app)
    click.echo(f"Database: {app.config['DB']}")
    if hubsync.start(app) is not None:  # enrolled with a hub: sync in the background
        click.echo(f"Syncing with the hub every {app.config['SYNC_SECONDS']} s.")
    if info["list_version"] is None:
        click.echo("No participant list is active yet: import one (passport import FILE) "
                   "or restart with --load-default.")
    else:
        click.echo(f"Participant list version {info['list_version']} "
                   f"({info['institutions']} institutions); warm in {info['seconds']:.2f} s.")
    _announce(host, server.effective_port, "1 process")
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("Stopped.")


@click.group()
def admin() -> None:
    """Staff users of the kiosk (roles: desk, admin)."""


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@admin.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(auth.ROLES), default="admin", show_default=True,
              help="desk staff or admin.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin.")
@json_option
def admin_create(username: str, role: str, password_stdin: bool, as_json: bool) -> None:
    """Create a staff user (prompts for the password unless --password-stdin).

    \b
    Example:
      echo 'correct-horse-staple' | passport admin create alice --role desk --password-stdin
    """
    db = open_store()
    try:
        user = auth.create_user(db, username, _read_password(password_stdin), role=role,
                                actor=audit.cli_actor())
    except auth.AuthError as exc:
        fail(str(exc))
    emit({"username": user.username, "role": user.role}, as_json,
         lambda u: f"Created {u['role']} user {u['username']}.")


@admin.command("list")
@json_option
def admin_list(as_json: bool) -> None:
    """List staff users.

    Example: passport admin list --json
    """
    users = [
        {"username": u.username, "role": u.role, "created_at": u.created_at, "disabled": u.disabled}
        for u in auth.list_users(open_store(must_exist=True))
    ]
    emit({"users": users}, as_json, lambda p: "\n".join(
        f"{u['username']}\t{u['role']}\t{'disabled' if u['disabled'] else 'active'}"
        for u in p["users"]) or "no users")


@click.group()
def token() -> None:
    """API tokens for clients of /api/v1 (sent as Authorization: Bearer TOKEN)."""


SCOPE_HELP = ", ".join(auth.SCOPES)


@token.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, metavar="SCOPE",
              help=f"What the token may do, one of {SCOPE_HELP}; repeat for several. "
                   "Default: every scope.")
@json_option
def token_create(name: str, scopes: tuple[str, ...], as_json: bool) -> None:
    """Create an API token and print it once (only its hash is stored).

    Without --scope the token gets every scope (check: /check, /eligible, /institutions;
    checkins:read and checkins:write: the log and undo; reports:read: /reports/visits).
    In plain output the token alone goes to stdout, its scopes to stderr.

    \b
    Example:
      passport token create ticketing --scope check --scope checkins:write --json
    """
    try:
        granted = list(auth.check_scopes(scopes or None))
        token_id, value = auth.create_token(open_store(), name, granted,
                                            actor=audit.cli_actor())
    except auth.AuthError as exc:
        fail(str(exc))
    emit({"id": token_id, "name": name.strip(), "scopes": granted, "token": value}, as_json,
         lambda p: p["token"])
    if not as_json:
        note = " (all scopes: narrow them with --scope)" if not scopes else ""
        click.echo(f"Scopes: {' '.join(granted)}{note}", err=True)


def _token_line(t: dict) -> str:
    state = f"revoked {t['revoked_at']}" if t["revoked_at"] else "live"
    used = t["last_used_at"] or "never used"
    return f"{t['id']}\t{t['name']}\t{' '.join(t['scopes'])}\t{t['created_at']}\t{used}\t{state}"


@token.command("list")
@json_option
def token_list(as_json: bool) -> None:
    """List API tokens: id, name, scopes, created, last used (to the minute), revoked.
    Never the tokens themselves.

    Example: passport token list --json
    """
    rows = auth.list_tokens(open_store(must_exist=True))
    emit({"tokens": rows}, as_json,
         lambda p: "\n".join(_token_line(t) for t in p["tokens"]) or "no tokens")


@token.command("revoke")
@click.argument("token_ref", metavar="ID|NAME")
@json_option
def token_revoke(token_ref: str, as_json: bool) -> None:
    """Revoke an API token by id, or by name when one live token has it (see `passport
    token list`). A revoked token is refused at once.

    Example: passport token revoke ticketing
    """
    db = open_store()
    try:
        token_id = auth.find_token(db, token_ref)
        auth.revoke_token(db, token_id, actor=audit.cli_actor())
    except auth.AuthError as exc:
        fail(str(exc))
    emit({"id": token_id, "revoked": True}, as_json, lambda p: f"Token {p['id']} revoked.")
