"""Reports through the kiosk: GET /api/v1/reports/visits (validated against
kiosk/openapi.yaml, with its errors) and the admin Reports page (chart, table, downloads),
over check-ins logged through the API on the app's settable clock."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import yaml
from openapi_schema_validator import OAS31Validator

import kiosk
from kiosk.site import set_kiosk_site
from passport import auth, cards, institutions, keys

SPEC = yaml.safe_load((Path(kiosk.__file__).parent / "openapi.yaml").read_text())
PATH = "/reports/visits"
EXPLORATORIUM = "exploratorium-san-francisco"
OMSI = "oregon-museum-of-science-and-industry-portland"  # ~530 miles away: admit
CHABOT = "chabot-space-science-center-oakland"  # ~12 miles away: deny
LA = ZoneInfo("America/Los_Angeles")


def validate(response) -> dict:
    """The JSON answer is what the spec says for its status."""
    answer = SPEC["paths"][PATH]["get"]["responses"][str(response.status_code)]
    if "$ref" in answer:
        answer = SPEC["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    schema = answer["content"]["application/json"]["schema"]
    OAS31Validator({**schema, "components": SPEC["components"]}).validate(response.json)
    return response.json


def assert_error(response, status: int, code: str, words: str) -> None:
    assert response.status_code == status, response.data
    assert validate(response)["error"]["code"] == code
    assert words in response.json["error"]["message"]


@pytest.fixture
def desk(kiosk_app, kiosk_client, kiosk_login, db, shipped_csv):
    """An admin at the Exploratorium's kiosk (Los Angeles), on the settable clock."""
    institutions.import_file(db, shipped_csv)
    with kiosk_app.app_context():
        set_kiosk_site(EXPLORATORIUM)
    kiosk_client.csrf = kiosk_login(kiosk_client, "boss", "admin")
    return kiosk_client


def log(client, **body):
    response = client.post("/api/v1/checkins", json={"visit": EXPLORATORIUM, **body},
                           headers={"X-CSRF-Token": client.csrf})
    assert response.status_code == 201, response.data
    return response.json


@pytest.fixture
def logged(desk, db, kiosk_clock):
    """Real decisions, logged through the API either side of Los Angeles' midnight."""
    keys.create_key(db, OMSI)
    group = cards.issue(db, OMSI, "M-1", ["Ada Lovelace"], date(2099, 6, 30), party_size=6)
    kiosk_clock.now = datetime(2026, 11, 23, 23, 50, tzinfo=LA)             # Monday night
    log(desk, card=group, party_size=3)                                      # 3 free
    kiosk_clock.now = datetime(2026, 11, 24, 0, 10, tzinfo=LA)              # Tuesday
    big = log(desk, card=group, party={"adults": 2, "children": 5})         # 6 free, 1 paying
    assert big["reasons"] == ["ELIGIBLE", "PARTY_TOO_LARGE"]
    denied = log(desk, home=CHABOT, postal="94612", country="US", expires="2026-01-31")
    assert set(denied["reasons"]) == {"HOME_WITHIN_RADIUS", "RESIDENCE_WITHIN_RADIUS",
                                      "CARD_EXPIRED"}
    kiosk_clock.now = datetime(2026, 11, 24, 9, 30, tzinfo=LA)
    mistaken = log(desk, card=group, party_size=2)
    kiosk_clock.now += timedelta(seconds=30)
    undone = desk.post(f"/api/v1/checkins/{mistaken['id']}/undo",
                       headers={"X-CSRF-Token": desk.csrf})
    assert undone.status_code == 201
    return desk


def test_api_report_equals_the_checkins_made(logged, db):
    _, token = auth.create_token(db, "office")
    bearer = {"Authorization": f"Bearer {token}"}
    body = validate(logged.get(f"/api/v1{PATH}?by=month", headers=bearer))
    assert body == {"by": "month", "from": None, "to": None,
                    "time_zone": "America/Los_Angeles",
                    "rows": [{"key": "2026-11", "admitted": 2, "people_free": 9,
                              "people_paying": 1, "denied": 1}]}
    monday = validate(logged.get(f"/api/v1{PATH}?from=2026-11-23&to=2026-11-23&by=home",
                                 headers=bearer))
    assert monday["rows"] == [{"key": OMSI, "admitted": 1, "people_free": 3,
                               "people_paying": 0, "denied": 0}]
    reasons = validate(logged.get(f"/api/v1{PATH}?by=reason", headers=bearer))["rows"]
    assert {r["key"]: (r["admitted"], r["denied"]) for r in reasons} == {
        "ELIGIBLE": (2, 0), "PARTY_TOO_LARGE": (1, 0), "HOME_WITHIN_RADIUS": (0, 1),
        "RESIDENCE_WITHIN_RADIUS": (0, 1), "CARD_EXPIRED": (0, 1)}
    for by in ("visit", "weekday", "hour"):
        assert validate(logged.get(f"/api/v1{PATH}?by={by}", headers=bearer))["by"] == by
    hours = validate(logged.get(f"/api/v1{PATH}?by=hour", headers=bearer))["rows"]
    assert [(r["key"], r["admitted"], r["denied"]) for r in hours if r["admitted"]
            or r["denied"]] == [("00", 1, 1), ("23", 1, 0)]


def test_api_report_downloads(logged):
    response = logged.get(f"/api/v1{PATH}?by=home&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="visits-by-home.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert rows[0] == ["home", "admitted", "people_free", "people_paying", "denied"]
    response = logged.get(f"/api/v1{PATH}?by=weekday&format=xlsx&from=2026-11-01")
    assert response.mimetype == SPEC_XLSX
    sheet = openpyxl.load_workbook(io.BytesIO(response.data))["Visits"]
    assert [c.value for c in sheet["A"]][1:] == ["Monday", "Tuesday", "Wednesday", "Thursday",
                                                 "Friday", "Saturday", "Sunday"]
    table = logged.get(f"/api/v1{PATH}?format=table")
    assert table.mimetype == "text/plain" and b"local days in America/Los_Angeles" in table.data


SPEC_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.mark.parametrize(("query", "words"), [
    ("by=year", "'by' must be one of month, home, visit, reason, weekday, hour, not 'year'"),
    ("from=2026-02-30", "'from' must be a date YYYY-MM-DD, not '2026-02-30'"),
    ("to=tomorrow", "'to' must be a date YYYY-MM-DD, not 'tomorrow'"),
    ("from=2026-12-01&to=2026-11-01", "'from' 2026-12-01 is after 'to' 2026-11-01"),
    ("format=pdf", "'format' must be one of table, csv, json, xlsx, not 'pdf'"),
    ("group=home", "unknown query parameter 'group'"),
    ("by=home&by=month", "query parameter 'by' was given 2 times"),
])
def test_api_report_errors_name_the_parameter(desk, query, words):
    assert_error(desk.get(f"/api/v1{PATH}?{query}"), 400, "invalid_input", words)


def test_api_report_needs_a_token_or_an_admin(kiosk_client, kiosk_login, db):
    assert_error(kiosk_client.get(f"/api/v1{PATH}"), 401, "unauthorized", "Bearer")
    kiosk_login(kiosk_client, "desk1", "desk")
    assert_error(kiosk_client.get(f"/api/v1{PATH}"), 403, "forbidden", "admins")


def test_spec_documents_the_report():
    operation = SPEC["paths"][PATH]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"from", "to", "by", "format"}
    by = next(p for p in operation["parameters"] if p["name"] == "by")
    assert by["schema"]["enum"] == ["month", "home", "visit", "reason", "weekday", "hour"]


# --------------------------------------------------------------------------- the admin page

def test_reports_page(logged):
    page = logged.get("/admin/reports?by=home").get_data(as_text=True)
    assert "local days in America/Los_Angeles" in page
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page and 'role="img"' in page
    assert page.count('<g class="bar">') == 2  # Chabot and OMSI
    assert f"{OMSI}: 2 admitted, 0 denied" in page
    assert f"{CHABOT}: 0 admitted, 1 denied" in page
    assert 'href="/admin/reports/visits.csv?from=&amp;to=&amp;by=home"' in page
    month = logged.get("/admin/reports").get_data(as_text=True)
    assert "<td>2026-11</td>" in month and '<td class="num">9</td>' in month
    weekday = logged.get("/admin/reports?by=weekday&from=2026-11-24&to=2026-11-24")
    assert weekday.get_data(as_text=True).count('<g class="bar">') == 7


def test_reports_page_downloads(logged):
    response = logged.get("/admin/reports/visits.csv?by=reason&from=2026-11-24")
    assert response.mimetype == "text/csv"
    assert 'filename="visits-by-reason_2026-11-24.csv"' in response.headers[
        "Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == "reason,admitted,people_free,people_paying,denied"
    assert "ELIGIBLE,1,6,1,0" in text.splitlines()
    response = logged.get("/admin/reports/visits.xlsx?by=month")
    assert response.mimetype == SPEC_XLSX
    assert openpyxl.load_workbook(io.BytesIO(response.data))["Visits"]["A2"].value == "2026-11"
    bad = logged.get("/admin/reports/visits.csv?from=someday")
    assert bad.status_code == 400 and b"'from' must be a date" in bad.data


def test_reports_page_errors_and_utc(kiosk_app, kiosk_client, kiosk_login, db):
    kiosk_login(kiosk_client, "boss", "admin")
    response = kiosk_client.get("/admin/reports?from=2026-13-01")
    assert response.status_code == 400
    assert "&#39;from&#39; must be a date" in response.get_data(as_text=True)
    page = kiosk_client.get("/admin/reports").get_data(as_text=True)
    assert "so days are UTC days" in page and "No visits in this range." in page


def test_reports_page_is_for_admins(kiosk_client, kiosk_login):
    assert kiosk_client.get("/admin/reports").status_code == 302  # to /login
    kiosk_login(kiosk_client, "desk1", "desk")
    assert kiosk_client.get("/admin/reports").status_code == 403
    assert kiosk_client.get("/admin/reports/visits.csv").status_code == 403
