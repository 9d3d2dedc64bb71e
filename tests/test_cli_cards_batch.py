"""`passport cards issue-batch`: a whole membership's cards from a CRM roster, end to end
through a real SQLite file (issue 12, "Cards for a whole membership")."""

from __future__ import annotations

import json
from datetime import date

import pytest
from rosterdata import (
    ISSUER,
    expected_names,
    issuing_store,
    member_rows,
    read_cards_csv,
    write_roster,
)

from passport import audit, cards, store

BASE_URL = "https://passport.example.org"
VISIT_ON = "2098-01-01"  # every generated card is valid then


@pytest.fixture
def issuer(db):
    issuing_store(db)
    return db


def _batch(cli, roster, out, *extra, ok=True, error=None):
    args = ["cards", "issue-batch", roster, "--institution", ISSUER, *extra]
    if out is not None:
        args += ["--out", out]
    return cli(*args, ok=ok, error=error)


def _issuance_rows(db) -> list[dict]:
    return list(db.query("SELECT * FROM card_issuances ORDER BY id"))


def test_a_roster_with_five_bad_cells_is_refused_whole_then_issued_when_fixed(
        cli, issuer, tmp_path):
    rows = member_rows(2000)
    good = {n: dict(rows[n]) for n in (17, 404, 999, 1500, 1997)}
    rows[17]["Exp Date"] = "31/12/2098"  # day first
    rows[404]["Constituent ID"] = ""  # no member id
    rows[999]["Zip"] = "9411O"  # not a ZIP code (a letter O)
    rows[1500]["Membership Level"] = "Gold"  # neither individual nor group
    rows[1997]["First Name"] = rows[1997]["Last Name"] = ""  # nobody named
    roster = write_roster(tmp_path / "members.csv", rows)
    refused = _batch(cli, roster, tmp_path / "out", "--json", ok=False)
    assert refused.exit_code == 1
    assert "5 problem(s) in members.csv; no card was issued" in refused.stderr
    errors = json.loads(refused.stdout)["errors"]
    # spreadsheet rows (the header is row 1), columns as the CRM names them
    assert [(e["row"], e["column"]) for e in errors] == [
        (19, "Exp Date"), (406, "Constituent ID"), (1001, "Zip"), (1502, "Membership Level"),
        (1999, "First Name")]
    assert not (tmp_path / "out").exists() and _issuance_rows(issuer) == []

    for n, row in good.items():
        rows[n] = row
    write_roster(roster, rows)
    issued = json.loads(_batch(cli, roster, tmp_path / "out", "--base-url", BASE_URL,
                               "--no-pdf", "--json").stdout)
    assert (issued["issued"], issued["new"], issued["unchanged"]) == (2000, 2000, 0)
    written = read_cards_csv(tmp_path / "out" / "cards.csv")
    assert list(written[0]) == ["member_id", "names", "expires", "payload", "card_url", "email"]
    assert len(written) == 2000
    for row, line in zip(rows, written, strict=True):
        checked = json.loads(cli("card", "verify", line["payload"], "--on", VISIT_ON,
                                 "--json").stdout)
        card = checked["card"]
        assert checked["valid"] is True
        assert card["member_id"] == line["member_id"] == row["Constituent ID"]
        assert card["names"] == line["names"].split("; ") == expected_names(row)
        assert card["expires"] == line["expires"]
        assert card["issuer_id"] == ISSUER and card["country"] == "US"
        assert card["party_size"] == (6 if row["Membership Level"] == "Family" else 1)
        assert card["postal_code"] == row["Zip"].zfill(5)
        assert line["card_url"] == f"{BASE_URL}/card?c={line['payload']}"
        assert line["email"] == row["Email Address"]
    recorded = _issuance_rows(issuer)
    assert len(recorded) == 2000 and {r["action"] for r in recorded} == {"issue"}
    assert {r["key_id"] for r in recorded} == {cards.decode(written[0]["payload"]).key_id}


def test_the_record_keeps_no_names_and_the_audit_log_one_row_per_batch(cli, issuer, tmp_path):
    rows = member_rows(5)
    _batch(cli, write_roster(tmp_path / "r.csv", rows), tmp_path / "out", "--no-pdf")
    recorded = _issuance_rows(issuer)
    text = json.dumps(recorded)
    for row in rows:
        assert row["First Name"] not in text and row["Last Name"] not in text
    assert {r["member_id"] for r in recorded} == {r["Constituent ID"] for r in rows}
    assert all(len(r["content_hash"]) == 32 and r["actor"].startswith("cli:") for r in recorded)
    batches = [e for e in audit.entries(issuer) if e["action"] == "cards.issued"]
    assert len(batches) == 1 and batches[0]["subject"] == ISSUER
    assert batches[0]["details"]["to_issue"] == 5 and batches[0]["details"]["new"] == 5


def test_renewal_reissues_only_changed_members(cli, issuer, tmp_path):
    rows = member_rows(40)
    roster = write_roster(tmp_path / "r.csv", rows)
    _batch(cli, roster, tmp_path / "run1", "--no-pdf")
    rows[3]["Exp Date"] = "12/31/2099"  # renewed
    rows[5]["Spouse First Name"], rows[5]["Spouse Last Name"] = "Mary", "Somerville"  # names
    rows[7]["Membership Level"] = "Family"  # party size 1 -> 6 (was individual)
    rows[8]["Zip"] = "10001"  # moved
    rows[9]["Email Address"] = "new@example.org"  # not on the card: no new card
    rows.append({**rows[10], "Constituent ID": "C-NEW"})  # joined
    write_roster(roster, rows)
    plan = json.loads(_batch(cli, roster, None, "--dry-run", "--json").stdout)
    assert (plan["to_issue"], plan["new"], plan["changed"], plan["unchanged"]) == (5, 1, 4, 36)
    again = json.loads(_batch(cli, roster, tmp_path / "run2", "--no-pdf", "--json").stdout)
    assert (again["issued"], again["new"], again["changed"]) == (5, 1, 4)
    reissued = read_cards_csv(tmp_path / "run2" / "cards.csv")
    assert [line["member_id"] for line in reissued] == [
        rows[n]["Constituent ID"] for n in (3, 5, 7, 8)] + ["C-NEW"]
    assert reissued[0]["expires"] == "2099-12-31"
    third = json.loads(_batch(cli, roster, tmp_path / "run3", "--json").stdout)
    assert third["issued"] == 0 and third["unchanged"] == 41
    assert third["files"]["pdf"] is None  # nothing to print
    assert len(read_cards_csv(tmp_path / "run3" / "cards.csv")) == 0


def test_a_retired_key_reissues_its_cards(cli, issuer, tmp_path):
    roster = write_roster(tmp_path / "r.csv", member_rows(3))
    _batch(cli, roster, tmp_path / "run1", "--no-pdf")
    old_key = _issuance_rows(issuer)[0]["key_id"]
    cli("keys", "rotate", "--institution", ISSUER)
    assert json.loads(_batch(cli, roster, None, "--dry-run", "--json").stdout)["to_issue"] == 0
    cli("keys", "retire", old_key)
    again = json.loads(_batch(cli, roster, tmp_path / "run2", "--no-pdf", "--json").stdout)
    assert again["key_ended"] == 3


def test_revoke_missing(cli, issuer, tmp_path):
    rows = member_rows(10)
    roster = write_roster(tmp_path / "r.csv", rows)
    _batch(cli, roster, tmp_path / "run1", "--no-pdf")
    payloads = {line["member_id"]: line["payload"]
                for line in read_cards_csv(tmp_path / "run1" / "cards.csv")}
    gone = [rows.pop(2)["Constituent ID"], rows.pop(6)["Constituent ID"]]
    write_roster(roster, rows)
    kept = json.loads(_batch(cli, roster, tmp_path / "run2", "--no-pdf", "--json").stdout)
    assert kept["missing"] == 2 and kept["revoked"] == []
    assert cli("card", "verify", payloads[gone[0]], "--on", VISIT_ON, ok=False).exit_code == 0
    done = json.loads(_batch(cli, roster, tmp_path / "run3", "--no-pdf", "--revoke-missing",
                             "--json").stdout)
    assert done["revoked"] == gone and done["issued"] == 0
    for member_id, payload in payloads.items():
        checked = json.loads(cli("card", "verify", payload, "--on", VISIT_ON, "--json",
                                 ok=False).stdout)
        assert checked["reasons"] == (["CARD_REVOKED"] if member_id in gone else [])
    assert [r["member_id"] for r in _issuance_rows(issuer) if r["action"] == "revoke"] == gone
    # back on the roster later, a revoked member id is refused, naming its row
    rows.append(member_rows(3)[2])
    write_roster(roster, rows)
    refused = _batch(cli, roster, tmp_path / "run4", ok=False)
    assert f"row 10, column Constituent ID: the cards of member {gone[0]} were revoked" in \
        refused.stdout


def test_an_xlsx_export_with_excel_dates(cli, issuer, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Membership Number", "Member Name", "Expiration Date", "Membership Type",
                  "Postal Code", "Country", "E-mail"])
    sheet.append(["M-1", "Ada Lovelace; Charles Babbage", date(2098, 6, 30), "Dual", "94111",
                  "US", "ada@example.org"])
    sheet.append(["M-2", "Grace Hopper", 72501, "Individual", None, None, None])  # a serial
    book.save(tmp_path / "export.xlsx")
    out = json.loads(_batch(cli, tmp_path / "export.xlsx", tmp_path / "out", "--no-pdf",
                            "--json").stdout)
    assert out["issued"] == 2
    lines = read_cards_csv(tmp_path / "out" / "cards.csv")
    assert [(line["member_id"], line["expires"]) for line in lines] == [
        ("M-1", "2098-06-30"), ("M-2", "2098-06-30")]


def test_refusals_are_one_line(cli, issuer, tmp_path):
    roster = write_roster(tmp_path / "r.csv", member_rows(2))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.csv").write_text("x")
    _batch(cli, roster, tmp_path / "full", error="is not an empty folder")
    _batch(cli, roster, None, error="give --out DIR")
    cli("cards", "issue-batch", roster, "--institution", "no-such-site", "--out",
        tmp_path / "o", error="no-such-site is not on the active participant list")
    _batch(cli, roster, tmp_path / "o2", "--pkpass-cert", roster,
           error="missing --pkpass-key, --pkpass-wwdr, --pass-type-id, --team-id")


def test_without_a_key_or_with_a_header_problem(cli, db, tmp_path):
    from passport import institutions

    institutions.ensure_default_list(db)
    roster = write_roster(tmp_path / "r.csv", member_rows(2))
    _batch(cli, roster, tmp_path / "o", error="has no signing key")
    bad = write_roster(tmp_path / "bad.csv", [{"Constituent ID": "1"}],
                       header=("Constituent ID",))
    result = _batch(cli, bad, tmp_path / "o", ok=False)
    assert "row 1, column expires: missing column 'expires'" in result.stdout


def test_text_output_and_the_print_sheets(cli, issuer, tmp_path):
    result = _batch(cli, write_roster(tmp_path / "r.csv", member_rows(12)), tmp_path / "out",
                    "--paper", "a4")
    assert result.stdout.startswith(f"Issued 12 cards for {ISSUER} (new 12")
    assert "card_url holds the /card?c= path only" in result.stdout
    import pypdfium2

    sheets = pypdfium2.PdfDocument(tmp_path / "out" / "cards.pdf")
    try:
        assert len(sheets) == 2  # ten cards a page
        assert [round(v, 1) for v in sheets[0].get_size()] == [595.3, 841.9]  # A4 in points
    finally:
        sheets.close()


def test_store_migration_keeps_no_personal_columns(db):
    columns = {row["name"] for row in db.query("PRAGMA table_info(card_issuances)")}
    assert columns == {"id", *store.CARD_ISSUANCE_COLUMNS}


def test_a_card_issued_alone_counts_for_renewals(cli, issuer, tmp_path):
    rows = member_rows(2)
    row = rows[1]  # an individual member
    cli("card", "issue", "--institution", ISSUER, "--member", row["Constituent ID"],
        "--names", f"{row['First Name']} {row['Last Name']}", "--expires", "2098-02-01",
        "--postal", row["Zip"], "--country", "US")
    plan = json.loads(_batch(cli, write_roster(tmp_path / "r.csv", rows), None, "--dry-run",
                             "--json").stdout)
    assert (plan["new"], plan["unchanged"]) == (1, 1)
    alone = write_roster(tmp_path / "alone.csv", rows[:1])
    plan = json.loads(_batch(cli, alone, None, "--dry-run", "--json").stdout)
    assert plan["missing_members"] == [{"member_id": row["Constituent ID"],
                                        "expires": "2098-02-01"}]
    cli("cards", "revoke", "--institution", ISSUER, "--member", row["Constituent ID"])
    assert [r["action"] for r in _issuance_rows(issuer)] == ["issue", "revoke"]
    assert json.loads(_batch(cli, alone, None, "--dry-run", "--json").stdout)["missing"] == 0
