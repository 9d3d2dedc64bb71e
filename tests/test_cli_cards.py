"""`passport card|cards|keys|trust` end to end through a real SQLite file in tmp_path."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from passport import cards, store
from passport.cli import main

HOME = "exploratorium-san-francisco"
ISSUE = ["card", "issue", "--institution", HOME, "--member", "M-1042",
         "--names", "Ada Lovelace", "--names", "Charles Babbage", "--group",
         "--expires", "2099-06-30", "--postal", "94111", "--country", "US"]


@pytest.fixture
def run(cli):
    return cli  # conftest's runner: run(*args) asserts exit 0, ok=False checks nothing


def _json(result):
    return json.loads(result.stdout)


def _one_line_error(result):
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("suffix", [".png", ".svg", ".html"])
def test_issue_to_file_then_verify(run, tmp_path, suffix):
    run("keys", "create", "--institution", HOME)
    out = tmp_path / f"card{suffix}"
    issued = _json(run(*ISSUE, "--out", out, "--json"))
    assert issued["file"] == str(out) and out.exists()
    assert issued["payload"].startswith("PYZ1")
    checked = _json(run("card", "verify", issued["payload"], "--on", "2099-06-30", "--json"))
    assert checked["valid"] is True and checked["reasons"] == []
    assert checked["card"]["names"] == ["Ada Lovelace", "Charles Babbage"]
    assert checked["card"]["membership"] == "group" and checked["card"]["party_size"] == 6
    if suffix == ".png":
        from_image = _json(run("card", "verify", "--image", out, "--on", "2099-06-30", "--json"))
        assert from_image == checked
    if suffix == ".html":
        assert "Ada Lovelace" in out.read_text(encoding="utf-8")


def test_verify_text_output_and_exit_codes(run):
    run("keys", "create", "--institution", HOME)
    payload = _json(run(*ISSUE, "--json"))["payload"]
    text = run("card", "verify", payload + "\n", "--on", "2099-06-30").stdout
    assert text.startswith("VALID") and "Ada Lovelace, Charles Babbage" in text
    expired = run("card", "verify", payload, "--on", "2099-07-01", "--json", ok=False)
    assert expired.exit_code == 1
    assert _json(expired)["reasons"] == ["CARD_EXPIRED"]
    junk = run("card", "verify", "HELLO", "--json", ok=False)
    assert junk.exit_code == 1
    assert _json(junk) == {"valid": False, "reasons": ["CARD_MALFORMED"], "card": None}


def test_verify_reads_stdin(run, db_path):
    run("keys", "create", "--institution", HOME)
    payload = _json(run(*ISSUE, "--json"))["payload"]
    result = CliRunner().invoke(main, ["card", "verify", "-", "--json", "--on", "2027-01-01"],
                                input=payload + "\r\n")
    assert result.exit_code == 0 and _json(result)["valid"] is True


BASE = ["card", "issue", "--institution", HOME, "--member", "M-1", "--names", "Ada Lovelace"]


@pytest.mark.parametrize("args, message", [
    (["--expires", "2027-02-30"], "--expires is not a date"),
    (["--expires", "20270630"], "--expires is not a date"),  # fromisoformat alone takes it
    (["--expires", "2099-01-01", "--group", "--party-size", "3"], "not both"),
    (["--expires", "2099-01-01", "--postal", "94111"], "together"),
    (["--expires", "2099-01-01", "--party-size", "0"], "party size"),
    (["--expires", "2099-01-01", "--postal", "9411!", "--country", "US"], "postal code"),
])
def test_issue_bad_input_is_one_line_and_writes_nothing(run, tmp_path, args, message):
    run("keys", "create", "--institution", HOME)
    out = tmp_path / "card.png"
    result = run(*BASE, *args, "--out", out, ok=False)
    assert message in _one_line_error(result)
    assert not out.exists()


def test_issue_refuses_unknown_output_type(run, tmp_path):
    run("keys", "create", "--institution", HOME)
    result = run(*BASE, "--expires", "2099-01-01", "--out", tmp_path / "card.pdf", ok=False)
    assert "--out must end in" in _one_line_error(result)
    assert not (tmp_path / "card.pdf").exists()


def test_issue_without_key_and_with_bad_names(run, tmp_path):
    assert "passport keys create" in _one_line_error(run(*ISSUE, ok=False))
    run("keys", "create", "--institution", HOME)
    result = run(*ISSUE[:6], "--names", "", "--expires", "2099-01-01",
                 "--out", tmp_path / "c.png", ok=False)
    assert "name" in _one_line_error(result)
    assert not (tmp_path / "c.png").exists()


def test_verify_argument_errors(run, tmp_path):
    assert "PAYLOAD or --image" in _one_line_error(run("card", "verify", ok=False))
    assert "no such image" in _one_line_error(
        run("card", "verify", "--image", tmp_path / "none.png", ok=False))
    assert "--on is not a date" in _one_line_error(
        run("card", "verify", "PYZ1AA", "--on", "tomorrow", ok=False))


def test_keys_rotate_revoke_list_and_card_revocation(run):
    first = _json(run("keys", "create", "--institution", HOME, "--json"))
    old_card = _json(run(*ISSUE, "--json"))["payload"]
    second = _json(run("keys", "rotate", "--institution", HOME, "--json"))
    listed = _json(run("keys", "list", "--json"))["keys"]
    assert [k["key_id"] for k in listed] == [first["key_id"], second["key_id"]]
    assert [k["signing"] for k in listed] == [False, True]
    assert "signing" in run("keys", "list").stdout
    assert _json(run("card", "verify", old_card, "--json", "--on", "2027-01-01"))["valid"]
    run("keys", "revoke", first["key_id"])
    revoked = run("card", "verify", old_card, "--json", "--on", "2027-01-01", ok=False)
    assert _json(revoked)["reasons"] == ["CARD_REVOKED"]
    new_card = _json(run(*ISSUE[:4], "--member", "M-7", "--names", "Mary Somerville",
                         "--expires", "2099-01-01", "--json"))["payload"]
    run("cards", "revoke", "--institution", HOME, "--member", "M-7", "--reason", "lost")
    assert _json(run("cards", "revoke", "--institution", HOME, "--member", "M-7",
                     "--json"))["newly_revoked"] is False
    result = run("card", "verify", new_card, "--json", "--on", "2027-01-01", ok=False)
    assert _json(result)["reasons"] == ["CARD_REVOKED"]
    assert "unknown key id" in _one_line_error(run("keys", "revoke", "ffffffffffff", ok=False))
    assert "use rotate" in _one_line_error(
        run("keys", "create", "--institution", HOME, ok=False))


def test_trust_export_import_between_two_stores(run, tmp_path, monkeypatch):
    run("keys", "create", "--institution", HOME)
    payload = _json(run(*ISSUE, "--json"))["payload"]
    trust_file = tmp_path / "trust.json"
    assert _json(run("trust", "export", trust_file, "--json"))["keys"] == 1
    assert json.loads(run("trust", "export").stdout)["keys"][0]["institution_id"] == HOME
    kiosk = tmp_path / "kiosk.sqlite"
    monkeypatch.setenv("PASSPORT_DB", str(kiosk))
    unknown = run("card", "verify", payload, "--json", "--on", "2027-01-01", ok=False)
    assert _json(unknown)["reasons"] == ["KEY_UNKNOWN"]
    bad = json.loads(trust_file.read_text())
    bad["keys"].append({"key_id": "nothex", "institution_id": HOME, "public_key": "x",
                        "created_at": "2026-01-01"})
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps(bad))
    assert "trust list rejected" in _one_line_error(run("trust", "import", bad_file, ok=False))
    assert _json(run("keys", "list", "--json"))["keys"] == []
    (tmp_path / "junk.json").write_text("{not json")
    assert "not JSON" in _one_line_error(run("trust", "import", tmp_path / "junk.json",
                                             ok=False))
    imported = _json(run("trust", "import", trust_file, "--json"))
    assert imported["keys_added"] == 1
    assert _json(run("card", "verify", payload, "--json", "--on", "2027-01-01"))["valid"]
    db = store.open_db(kiosk)
    assert cards.verify(db, payload, date(2027, 6, 30)).valid
    db.close()


def test_issue_checks_the_active_participant_list(run, db, tmp_path):
    from passport import institutions

    run("keys", "create", "--institution", "not-on-the-list")  # before any list is active
    institutions.ensure_default_list(db)
    run("keys", "create", "--institution", HOME)
    for command in ("create", "rotate"):
        refused = run("keys", command, "--institution", "also-not-listed", ok=False)
        assert "not on the active participant list" in _one_line_error(refused)
    out = tmp_path / "card.html"
    run(*ISSUE, "--out", out)
    assert "Exploratorium" in out.read_text(encoding="utf-8")  # the list's name, not the id
    result = run(*BASE[:3], "not-on-the-list", *BASE[4:], "--expires", "2099-01-01", ok=False)
    assert "not on the active participant list" in _one_line_error(result)


def test_issue_refuses_an_expired_card_unless_allowed(run, tmp_path):
    """Issue 10: `card issue` signed an already-expired card without a word."""
    run("keys", "create", "--institution", HOME)
    out = tmp_path / "card.png"
    result = run(*BASE, "--expires", "2020-01-01", "--out", out, ok=False)
    assert "--expires 2020-01-01 is before today" in _one_line_error(result)
    assert "--allow-expired" in _one_line_error(result)
    assert not out.exists() and result.stdout == ""
    allowed = _json(run(*BASE, "--expires", "2020-01-01", "--allow-expired", "--json"))
    check = _json(run("card", "verify", allowed["payload"], "--json", "--on", "2020-01-02",
                      ok=False))
    assert check["reasons"] == ["CARD_EXPIRED"]
