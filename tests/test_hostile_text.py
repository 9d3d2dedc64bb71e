"""Names and terms holding HTML and script are shown as text everywhere: every page that
shows them (desk, admin list and diff pages, planner, /card, reports, activity), the
printable card, the PDF print sheet; every CSV/XLSX the project writes neutralises
spreadsheet formulas; no script of the kiosk inserts HTML."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date
from pathlib import Path

import pytest

from passport import audit, auth, cards, checkins, institutions, keys, printsheet, qr, reports
from passport.importer import FORMULA_PREFIXES

ROOT = Path(__file__).resolve().parents[1]
OMSI = "oregon-museum-of-science-and-industry-portland"
EXPLORATORIUM = "exploratorium-san-francisco"
SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"onerror=alert(2) x="'
IMAGE = "<img src=x onerror=alert(3)>"
HOSTILE_NAME = f"{SCRIPT} Science {ATTRIBUTE}"
HOSTILE_TERMS = f"{IMAGE} Closed Mondays"
HOSTILE_MEMBER = "<b onmouseover=alert(4)>Ada</b>"
RAW = (SCRIPT, IMAGE, "<b onmouseover", 'onerror=alert(2) x=""')


def hostile_list(shipped_csv: Path) -> bytes:
    """The shipped list with OMSI renamed to HTML and script, and hostile terms for OMSI
    and the Exploratorium (where the desks of the tests stand)."""
    rows = list(csv.DictReader(io.StringIO(shipped_csv.read_text(encoding="utf-8"))))
    for row in rows:
        row["restrictions"] = HOSTILE_TERMS if row["id"] in (OMSI, EXPLORATORIUM) else ""
        if row["id"] == OMSI:
            row["name"], row["city"] = HOSTILE_NAME, f"Portland {IMAGE}"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def assert_text_only(page: bytes | str, *, shows: str | None = HOSTILE_NAME) -> None:
    """No hostile markup got through as markup; ``shows`` is on the page as text (escaped
    in the HTML, itself once the entities are read)."""
    text = page.decode() if isinstance(page, bytes) else page
    for raw in RAW:
        assert raw not in text, raw
    if shows is not None:
        assert shows in html.unescape(text), f"{shows!r} is not on the page"


@pytest.fixture
def hostile(db, shipped_csv, kiosk_app, kiosk_client, kiosk_login):
    institutions.import_file(db, shipped_csv)
    institutions.import_bytes(db, hostile_list(shipped_csv), "hostile.csv")
    keys.create_key(db, OMSI)
    payload = cards.issue(db, OMSI, "M-1", [HOSTILE_MEMBER], date(2099, 6, 30))
    decision = {"visit": EXPLORATORIUM, "home": OMSI, "admit": True, "reasons": ["ELIGIBLE"],
                "list_version": 2}
    checkins.log_checkin(db, decision, party_size=1, staff_user="desk1", source="desk")
    auth.create_token(db, f"{SCRIPT} token")
    audit.record(db, "root", "token.created", HOSTILE_NAME)
    return {"payload": payload, "client": kiosk_client, "login": kiosk_login}


def test_every_page_shows_hostile_names_as_text(hostile, db):
    client = hostile["client"]
    assert_text_only(client.get(f"/?home={OMSI}").data)  # the public planner
    assert_text_only(client.get(f"/?home={OMSI}&where=Portland%2C+OR").data)
    card = client.get("/card", query_string={"c": hostile["payload"]})
    assert card.status_code == 200
    assert_text_only(card.data, shows=HOSTILE_MEMBER)
    hostile["login"](client, "root", "admin")
    assert_text_only(client.get("/admin").data, shows=f"{SCRIPT} token")
    assert_text_only(client.get("/admin/lists/1/rollback").data)  # the diff pages
    assert_text_only(client.get("/admin/reports?by=home").data, shows=None)
    assert_text_only(client.get("/admin/activity").data)
    desk = client.get("/desk")
    assert desk.status_code == 200
    assert_text_only(desk.data, shows=None)
    assert HOSTILE_NAME in [i["name"] for i in institutions.search(db)]  # data, unchanged


def test_upload_review_diff_shows_hostile_names_as_text(hostile, shipped_csv):
    client = hostile["client"]
    csrf = hostile["login"](client, "root", "admin")
    page = client.post("/admin/lists/upload", content_type="multipart/form-data", data={
        "csrf_token": csrf, "file": (io.BytesIO(shipped_csv.read_bytes()), "list.csv")})
    assert page.status_code == 200 and b"Publish" in page.data
    assert_text_only(page.data)


def test_the_printable_card_escapes_every_text():
    card = cards.Card(1, OMSI, "k1", "M-<i>1</i>", (HOSTILE_MEMBER,), 1, date(2099, 6, 30))
    page = qr.card_html("PP1:payload", card, benefit=HOSTILE_TERMS, home_name=HOSTILE_NAME)
    assert_text_only(page)
    assert_text_only(page, shows=HOSTILE_MEMBER)
    assert_text_only(page, shows=HOSTILE_TERMS)
    assert "M-&lt;i&gt;1&lt;/i&gt;" in page


def test_the_print_sheet_draws_names_literally(tmp_path):
    import pypdfium2

    names = ("<b>Ada</b> **Lo**", "=1+1 __Bo__")
    printed = [printsheet.PrintCard("PP1:payload", "M-<i>", names, date(2099, 6, 30), 2)]
    path = tmp_path / "sheet.pdf"
    printsheet.write_sheets(path, printed, home_name="<s>Home</s>", benefit="**not bold**")
    document = pypdfium2.PdfDocument(path)
    try:
        textpage = document[0].get_textpage()
        text = textpage.get_text_range()
        textpage.close()
    finally:
        document.close()
    for literal in (*names, "M-<i>", "<s>Home</s>", "**not bold**"):
        assert literal in text, literal


def test_every_csv_and_xlsx_export_neutralises_formulas(db, tmp_path):
    from openpyxl import load_workbook

    danger = ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    rows = [{"key": value, "admitted": 1, "denied": 0, "people_free": 1, "people_paying": 0}
            for value in danger]
    report = {"by": "home", "from": "=1", "to": None, "time_zone": "UTC", "rows": rows}
    _assert_inert_csv(reports.to_csv(report), skip_columns=set(reports.COLUMNS))
    book = load_workbook(io.BytesIO(reports.to_xlsx(report)))
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            assert not any(isinstance(v, str) and v.startswith(FORMULA_PREFIXES) for v in row)
    for value in danger:
        audit.record(db, value, "token.created", value, {"name": value})
    _assert_inert_csv(audit.to_csv(audit.entries(db, limit=None), None))


def test_the_card_run_csv_neutralises_formulas(tmp_path):
    from passport import issuance

    card = cards.Card(1, OMSI, "k1", "=M-1", ("=Ada", "+Bo"), 2, date(2099, 6, 30))
    plan = issuance.BatchPlan.__new__(issuance.BatchPlan)
    object.__setattr__(plan, "to_issue", [(card, None, "@mail@example.org")])
    path = tmp_path / "cards.csv"
    issuance._write_csv(path, plan, ["-payload"], None, None)
    _assert_inert_csv(path.read_text(encoding="utf-8"))


def _assert_inert_csv(text: str, skip_columns: set[str] = frozenset()) -> None:
    reader = csv.DictReader(io.StringIO(text))
    seen = 0
    for row in reader:
        for column, value in row.items():
            if column not in skip_columns and value:
                seen += 1
                assert not value.startswith(FORMULA_PREFIXES), (column, value)
    assert seen


def test_no_kiosk_script_inserts_html():
    """Names and terms reach the pages' scripts as data; the scripts set textContent, so
    no script may use an HTML sink (vendored libraries aside)."""
    sinks = re.compile(r"\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|"
                       r"createContextualFragment|\.srcdoc")
    scripts = sorted((ROOT / "kiosk" / "static").glob("*.js"))
    assert any(p.name == "desk.js" for p in scripts)
    found = [f"{p.name}:{n}" for p in scripts
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if sinks.search(line)]
    assert found == []
