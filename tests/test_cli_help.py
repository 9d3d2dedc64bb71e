"""Every CLI command has --help with a description (datasette/sqlite-utils convention)."""

import click
from click.testing import CliRunner

from passport.cli import main


def _walk(group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from _walk(cmd, prefix + (name,))


def test_every_command_has_help():
    runner = CliRunner()
    for path, cmd in _walk(main):
        assert cmd.help, f"passport {' '.join(path)} has no help text"
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
