"""CLI of the kiosk part: passport admin create/list, token create/list/revoke; serve --help."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from passport import auth, store
from passport.cli import main


def test_admin_create_from_stdin(db):
    runner = CliRunner()
    result = runner.invoke(main, ["admin", "create", "alice", "--role", "desk",
                                  "--password-stdin", "--json"], input="long enough pw\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"username": "alice", "role": "desk"}
    assert auth.authenticate(db, "alice", "long enough pw").role == "desk"
    again = runner.invoke(main, ["admin", "create", "alice", "--password-stdin"],
                          input="long enough pw\n")
    assert again.exit_code != 0 and "already exists" in again.output
    weak = runner.invoke(main, ["admin", "create", "bob", "--password-stdin"], input="short\n")
    assert weak.exit_code != 0 and "at least 12" in weak.output
    listed = runner.invoke(main, ["admin", "list", "--json"])
    assert json.loads(listed.output)["users"][0]["username"] == "alice"


def test_admin_create_prompts(db):
    result = CliRunner().invoke(main, ["admin", "create", "carol"],
                                input="long enough pw\nlong enough pw\n")
    assert result.exit_code == 0, result.output
    assert auth.get_user(db, "carol").role == "admin"


def test_token_create_prints_once(db):
    runner = CliRunner()
    result = runner.invoke(main, ["token", "create", "ticketing", "--json"])
    assert result.exit_code == 0, result.output
    token = json.loads(result.output)["token"]
    assert auth.verify_token(db, token).name == "ticketing"
    plain = runner.invoke(main, ["token", "create", "other"])
    assert plain.output.strip().startswith(auth.TOKEN_PREFIX)
    listed = json.loads(runner.invoke(main, ["token", "list", "--json"]).output)["tokens"]
    assert [t["name"] for t in listed] == ["ticketing", "other"]
    assert token not in json.dumps(listed)
    assert runner.invoke(main, ["token", "revoke", str(listed[0]["id"])]).exit_code == 0
    assert auth.verify_token(db, token) is None
    again = runner.invoke(main, ["token", "revoke", str(listed[0]["id"])])
    assert again.exit_code != 0 and again.output.startswith("Error:")


def test_serve_help():
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0 and "--load-default" in result.output


def test_serve_starts_warm_with_default_list(db_path, tmp_path):
    """What `make run` does: the real server process answers /healthz 200, and printed its
    URL, the store path and a generated admin password (which works)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    passport = Path(sys.executable).with_name("passport")
    process = subprocess.Popen(
        [str(passport), "serve", "--load-default", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and status != 200:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    status = r.status
            except OSError:
                time.sleep(0.3)
        assert status == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert f"http://localhost:{port}/desk" in output
    assert str(db_path) in output and "version 1 (368 institutions)" in output
    password = output.split("with password: ")[1].split()[0]
    db = store.open_db(db_path)
    assert auth.authenticate(db, "admin", password).is_admin
    db.close()
