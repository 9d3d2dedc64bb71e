"""The kiosk's commands for ``passport`` (entry points ``passport.commands``): ``serve`` (the
kiosk under waitress), ``admin`` (staff users) and ``token`` (API tokens)."""

from __future__ import annotations

import socket
import sys

import click

from kiosk import create_app
from kiosk.warmup import warm
from passport import audit, auth
from passport.cli.common import emit, fail, json_option, open_store

DEFAULT_ADMIN = "admin"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Worker threads.")
@click.option("--load-default", is_flag=True,
              help="Import data/institutions.csv when no participant list is active.")
def serve(host: str, port: int, threads: int, load_default: bool) -> None:
    """Run the kiosk (desk, member pages, admin, JSON API) with waitress.

    Warms the distance kernels and loads the active list before it accepts requests, so
    the first scan is as fast as the rest. Creates a first admin with a generated password,
    printed once, when there is none. A newly published list is picked up without restart.

    Example: PASSPORT_SITE=exploratorium-san-francisco passport serve --load-default
    """
    import waitress

    # A port in use fails in one line before anything is written or printed. The probe is
    # our own socket: waitress leaks its wake-up socket when its own bind fails.
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.create_server((host, port), family=family):
            pass
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    app = create_app()
    server = waitress.create_server(app, host=host, port=port, threads=threads,
                                    ident="passport")

    db = open_store()
    if load_default:
        from passport import institutions

        version = institutions.ensure_default_list(db)
        if version is not None:
            click.echo(f"Imported the shipped participant list as version {version}.")
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

    info = warm(app)
    click.echo(f"Database: {app.config['DB']}")
    if info["list_version"] is None:
        click.echo("No participant list is active yet: import one (passport import FILE) "
                   "or restart with --load-default.")
    else:
        click.echo(f"Participant list version {info['list_version']} "
                   f"({info['institutions']} institutions); warm in {info['seconds']:.2f} s.")
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    click.echo(f"Kiosk ready at http://{shown_host}:{server.effective_port}/desk  "
               "(Ctrl-C to stop)")
    sys.stdout.flush()
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


@token.command("create")
@click.argument("name")
@json_option
def token_create(name: str, as_json: bool) -> None:
    """Create an API token and print it once (only its hash is stored).

    Example: passport token create ticketing --json
    """
    try:
        token_id, value = auth.create_token(open_store(), name, actor=audit.cli_actor())
    except auth.AuthError as exc:
        fail(str(exc))
    emit({"id": token_id, "name": name, "token": value}, as_json, lambda p: p["token"])


@token.command("list")
@json_option
def token_list(as_json: bool) -> None:
    """List API tokens (names and dates, never the tokens).

    Example: passport token list
    """
    rows = auth.list_tokens(open_store(must_exist=True))
    emit({"tokens": rows}, as_json, lambda p: "\n".join(
        f"{t['id']}\t{t['name']}\t{'revoked ' + t['revoked_at'] if t['revoked_at'] else 'live'}"
        for t in p["tokens"]) or "no tokens")


@token.command("revoke")
@click.argument("token_id", type=int)
@json_option
def token_revoke(token_id: int, as_json: bool) -> None:
    """Revoke an API token by id (see `passport token list`).

    Example: passport token revoke 3
    """
    try:
        auth.revoke_token(open_store(), token_id, actor=audit.cli_actor())
    except auth.AuthError as exc:
        fail(str(exc))
    emit({"id": token_id, "revoked": True}, as_json, lambda p: f"Token {p['id']} revoked.")
