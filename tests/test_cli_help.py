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


def test_usage_errors_are_one_line_on_stderr():
    runner = CliRunner()
    for args in (["check", "--home", "x"], ["diff", "a", "b"], ["nosuch"],
                 ["check", "--visit", "a", "--home", "b", "--card-image", "/no/such.png"],
                 ["admin", "create", "eve", "--role", "root", "--password-stdin"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (args, result.stderr)
        assert "--help" in lines[0]
