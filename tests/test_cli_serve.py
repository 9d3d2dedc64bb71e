"""`passport serve` on a port that is taken: one line, non-zero, nothing written."""

import socket

from click.testing import CliRunner

from passport.cli import main


def test_port_in_use_fails_in_one_line_before_writing(db_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--load-default", "--port", str(port)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: cannot listen on 127.0.0.1:{port}")
    assert "password" not in result.output
    assert not db_path.exists()  # no store, no admin user, no imported list
