"""The ``passport`` command line: a thin click layer over the passport library.

The domain's own commands live in one module per concern (lists, admission, cards,
geocode); each registers itself on ``main`` when imported below. Other packages contribute
commands through the ``passport.commands`` entry-point group (as Flask's ``flask.commands``):
the kiosk adds ``serve``, ``admin`` and ``token``, the benchmarks add ``bench``. So the
domain never imports the kiosk or the benchmarks; a contributed command is imported only
when it is run (or listed in ``--help``).
"""

from __future__ import annotations

import functools
import sqlite3
import sys
from importlib.metadata import EntryPoint, entry_points

import click

from passport import store

COMMANDS_ENTRY_POINT_GROUP = "passport.commands"


@functools.cache
def contributed_commands() -> dict[str, EntryPoint]:
    """Commands other installed packages add, by name (declared in their metadata)."""
    return {ep.name: ep for ep in entry_points(group=COMMANDS_ENTRY_POINT_GROUP)}


class PassportGroup(click.Group):
    """The root group: its own commands plus the contributed ones; every error, usage
    errors included, is one line on stderr."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *contributed_commands()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in contributed_commands():
            command = contributed_commands()[name].load()
        return command

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            # click's own display adds the usage line and a hint: three lines, not one.
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"Error: {exc.format_message()}{where}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except sqlite3.Error as exc:  # read-only, disk full, locked: one line, not a traceback
            fault = store.fault_of(exc)
            if fault is None:
                raise
            click.echo(f"Error: {fault}", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=PassportGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="passport-checkin")
def main() -> None:
    """Check-in service for reciprocal museum admission (ASTC Travel Passport, NARM, AZA and
    other programs).

    The store is the SQLite file named by $PASSPORT_DB (default: instance/passport.sqlite).
    Every command takes --json for machine-readable output.
    """


# Imported for their side effect of registering commands on ``main``.
from passport.cli import (  # noqa: E402,F401
    admission,
    backup,
    batch,
    cards,
    crosswalk,
    geocode,
    lists,
    programs,
    reports,
    sync,
)
