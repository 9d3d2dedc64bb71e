"""Member rosters (passport/roster.py): CRM header spellings, dates, every bad cell named."""

from __future__ import annotations

import io
import json
from datetime import date, datetime

import pytest
from rosterdata import member_rows, write_roster

from passport.roster import (
    RosterError,
    RosterRules,
    membership_size,
    parse_roster,
    parse_roster_date,
)

RULES = RosterRules(today=date(2026, 6, 15), group_party_size=6, default_country="US")


def _parse(text: str, name: str = "roster.csv", rules: RosterRules = RULES):
    return parse_roster(text.encode("utf-8"), name, rules)


def _errors(text: str, name: str = "roster.csv") -> list[str]:
    with pytest.raises(RosterError) as caught:
        _parse(text, name)
    return [str(e) for e in caught.value.errors]


@pytest.mark.parametrize(("text", "expected"), [
    ("2027-06-30", date(2027, 6, 30)),
    ("2027/6/3", date(2027, 6, 3)),
    ("06/30/2027", date(2027, 6, 30)),
    ("6/3/2027", date(2027, 6, 3)),  # month first: 3 June
    ("6/30/27", date(2027, 6, 30)),
    ("06-30-2027", date(2027, 6, 30)),
    ("6/30/2027 12:00:00 AM", date(2027, 6, 30)),  # Tessitura's date-time export
    ("2027-06-30T00:00:00", date(2027, 6, 30)),  # an XLSX date cell as read
    ("2027-06-30 00:00:00", date(2027, 6, 30)),
    ("46568", date(2027, 6, 30)),  # Excel's serial day number
    ("46568.0", date(2027, 6, 30)),
    ("30-Jun-2027", date(2027, 6, 30)),
    ("June 30, 2027", date(2027, 6, 30)),
])
def test_roster_dates(text, expected):
    assert parse_roster_date(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("30/06/2027", "reads as day/month/year; write it month first (06/30/2027)"),
    ("02/30/2027", "is not a day of the calendar"),
    ("2027-13-01", "is not a day of the calendar"),
    ("next June", "is not a date"),
    ("20270630", "is not a date"),
])
def test_roster_dates_refused_with_a_reason(text, message):
    with pytest.raises(ValueError) as caught:
        parse_roster_date(text)
    assert message in str(caught.value)


def test_crm_header_spellings_any_case_and_order():
    text = ("EMAIL ADDRESS;Postal Code;membership type;Expiration Date;Last Name;First Name;"
            "Member ID;Spouse Last Name;Spouse First Name\n"
            "ada@example.org;94111;Household;2027-06-30;Lovelace;Ada;M-1;Babbage;Charles\n")
    roster = _parse(text)
    member = roster.members[0]
    assert (member.member_id, member.names, member.expires, member.party_size) == \
        ("M-1", ("Ada Lovelace", "Charles Babbage"), date(2027, 6, 30), 6)
    assert (member.postal_code, member.country, member.email) == ("94111", "US",
                                                                  "ada@example.org")
    assert roster.columns["expires"] == "Expiration Date"


@pytest.mark.parametrize("header", [
    "Member ID,Names,Expires,Membership",
    "Constituent ID,Name,Exp Date,Level",
    "Membership Number,Cardholders,Expiration,Membership Type",
    "Member #,Member Names,Valid Through,Category",
    "Lookup ID,Full Name,Expiry Date,Member Type",
    "customer_no,name on card,exp. date,TIER",
])
def test_member_id_names_expiry_and_level_aliases(header):
    roster = _parse(f"{header}\n1042,Ada Lovelace;Charles Babbage,06/30/2027,Family\n")
    member = roster.members[0]
    assert member.member_id == "1042"
    assert member.names == ("Ada Lovelace", "Charles Babbage")
    assert member.expires == date(2027, 6, 30) and member.party_size == 6


def test_numbered_names_and_party_size():
    text = ("member_id,name_1,Name 2,name3,party_size,zip_code,country,expires\n"
            "M-7,Ada,Charles,Grace,3,L3P3J3,ca,2027-06-30\n")
    member = _parse(text).members[0]
    assert member.names == ("Ada", "Charles", "Grace") and member.party_size == 3
    assert (member.postal_code, member.country) == ("L3P 3J3", "CA")


def test_membership_words():
    assert membership_size("Family Plus", 6) == 6
    assert membership_size("Senior Dual", 6) == 6
    assert membership_size("Individual", 6) == 1
    assert membership_size("Student", 6) == 1
    with pytest.raises(ValueError, match="neither individual nor group"):
        membership_size("Patron Circle", 6)


def test_excel_zip_without_its_leading_zero_and_the_home_country():
    member = _parse("Member ID,Names,Expires,Membership,Zip\nM-1,Ada,2027-06-30,individual,"
                    "2134\n").members[0]
    assert (member.postal_code, member.country) == ("02134", "US")


def test_every_bad_cell_is_named_with_its_row_and_the_files_column():
    text = ("Member ID,Names,Exp Date,Level,Zip,Country,Email\n"
            "M-1,Ada Lovelace,06/30/2027,Family,94111,US,ada@example.org\n"  # row 2: fine
            ",Bob,06/30/2027,Family,,,\n"  # row 3: no member id
            "M-3,,06/30/2027,Family,,,\n"  # row 4: no name
            "M-4,Cy,30/06/2027,Family,,,\n"  # row 5: day first
            "M-5,Di,06/30/2027,Gold,,,\n"  # row 6: unknown level
            "M-6,Ed,06/30/2027,Family,ABC,US,\n"  # row 7: not a ZIP
            "M-7,Fay,06/30/2027,Family,,,not-an-email\n"  # row 8
            "M-1,Gus,06/30/2027,Family,,,\n"  # row 9: duplicate id
            "M-9,=HYPERLINK(1),06/30/2027,Family,,,\n"  # row 10: a formula
            "M-10,Hal,01/31/2026,Family,,,\n")  # row 11: expired before today
    errors = _errors(text)
    assert errors[0] == "row 3, column Member ID: member id is empty"
    assert errors[1] == "row 4, column Names: no name: a card names 1 to 8 people"
    assert errors[2].startswith("row 5, column Exp Date: '30/06/2027' reads as day/month")
    assert errors[3].startswith("row 6, column Level: membership 'Gold' is neither")
    assert errors[4].startswith("row 7, column Zip: 'ABC' is not a US ZIP code")
    assert errors[5] == "row 8, column Email: 'not-an-email' is not an email address"
    assert errors[6] == "row 9, column Member ID: member id 'M-1' appears twice (row 2 has 'M-1')"
    assert errors[7].startswith("row 10, column Names: name '=HYPERLINK(1)' starts with '='")
    assert errors[8].startswith("row 11, column Exp Date: expired on 2026-01-31")
    assert len(errors) == 9


def test_header_problems():
    assert _errors("Names,Level\nAda,Family\n") == [
        "row 1, column member_id: missing column 'member_id'",
        "row 1, column expires: missing column 'expires'",
    ]
    assert "both give member_id" in _errors(
        "Member ID,Constituent ID,Names,Expires,Level\n1,2,Ada,2027-06-30,Family\n")[0]
    assert "give the names one way" in _errors(
        "Member ID,Names,First Name,Expires,Level\n1,Ada,Ada,2027-06-30,Family\n")[0]
    assert "'membership' (individual/group) or 'party_size'" in _errors(
        "Member ID,Names,Expires\n1,Ada,2027-06-30\n")[0]


def test_too_many_names_and_long_names():
    nine = ";".join(f"Person {n}" for n in range(9))
    assert "9 names: a card names at most 8" in _errors(
        f"Member ID,Names,Expires,Level\n1,{nine},2027-06-30,Family\n")[0]
    assert "longer than 64 bytes" in _errors(
        f"Member ID,Names,Expires,Level\n1,{'x' * 65},2027-06-30,Family\n")[0]


def test_party_size_must_fit_the_level():
    assert "does not fit membership 'Individual'" in _errors(
        "Member ID,Names,Expires,Level,Party Size\n1,Ada,2027-06-30,Individual,4\n")[0]
    assert "not a whole number 1..99" in _errors(
        "Member ID,Names,Expires,Party Size\n1,Ada,2027-06-30,2.5\n")[0]


def test_blank_lines_and_ignored_columns():
    roster = _parse("Member ID,Names,Expires,Level,Notes\n\nM-1,Ada,2027-06-30,Family,VIP\n"
                    ",,,,total: 1\n")
    assert [m.member_id for m in roster.members] == ["M-1"]
    assert roster.warnings == ["ignored columns: Notes"]


def test_json_roster_with_a_names_list():
    text = json.dumps({"members": [{"member_id": "M-1", "names": ["Ada", "Charles"],
                                    "expires": "2027-06-30", "membership": "group"}]})
    assert _parse(text, "roster.json").members[0].names == ("Ada", "Charles")


def test_xlsx_with_date_cells_and_serial_numbers():
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Member ID", "First Name", "Last Name", "Expiration Date", "Level", "Zip"])
    sheet.append([1042, "Ada", "Lovelace", datetime(2027, 6, 30), "Family", 2134])
    sheet.append([1043, "Grace", "Hopper", 46568, "Individual", 94111])  # a serial number
    sheet.append([1044, "Alan", "Turing", "06/30/2027", "Individual", None])
    buffer = io.BytesIO()
    book.save(buffer)
    roster = parse_roster(buffer.getvalue(), "export.xlsx", RULES)
    assert [(m.member_id, m.expires, m.postal_code) for m in roster.members] == [
        ("1042", date(2027, 6, 30), "02134"), ("1043", date(2027, 6, 30), "94111"),
        ("1044", date(2027, 6, 30), None)]


def test_a_windows_1252_export_with_a_bom_free_semicolon_layout(tmp_path):
    data = "Member ID;Names;Expires;Level\r\nM-1;Zoë Nuñez;06/30/2027;Family\r\n"
    roster = parse_roster(data.encode("cp1252"), "roster.csv", RULES)
    assert roster.members[0].names == ("Zoë Nuñez",) and roster.warnings


def test_generated_roster_reads_whole(tmp_path):
    path = write_roster(tmp_path / "members.csv", member_rows(300))
    roster = parse_roster(path.read_bytes(), path.name, RULES)
    assert len(roster.members) == 300
    assert roster.members[0].names == ("Ada Lovelace", "Katherine Lovelace")
