"""The ``passport`` command line: a thin click layer over the passport library.

Commands live in one module per concern (lists, checks, cards, server, bench); each
registers itself on ``main`` when imported below.
"""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="passport-checkin")
def main() -> None:
    """Check-in service for reciprocal museum admission (ASTC Travel Passport Program).

    The store is the SQLite file named by $PASSPORT_DB (default: instance/passport.sqlite).
    Every command takes --json for machine-readable output.
    """


# Imported for their side effect of registering commands on ``main``.
from passport.cli import bench, cards, checks, lists, server  # noqa: E402,F401
