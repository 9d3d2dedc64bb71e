"""The ``passport`` command line: a thin click layer over the passport library.

Commands live in one module per concern (lists, checks, cards, server, bench); each
registers itself on ``main`` when imported below.
"""

from __future__ import annotations

import sys

import click


class PassportGroup(click.Group):
    """The root group: every error, usage errors included, is one line on stderr."""

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
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=PassportGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="passport-checkin")
def main() -> None:
    """Check-in service for reciprocal museum admission (ASTC Travel Passport Program).

    The store is the SQLite file named by $PASSPORT_DB (default: instance/passport.sqlite).
    Every command takes --json for machine-readable output.
    """


# Imported for their side effect of registering commands on ``main``.
from passport.cli import bench, cards, checks, geocode, lists, server  # noqa: E402,F401
