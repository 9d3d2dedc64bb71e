"""Admin console "Member cards" (kiosk/membercards.py): roster upload -> row errors or a
preview -> issue in the background -> progress -> downloads; auth and CSRF."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import zipfile
from html import unescape

import pytest
from passpki import PASS_TYPE_ID, TEAM_ID, make_pki
from rosterdata import ISSUER, issuing_store, member_rows, write_roster

from passport import audit, cards

BASE = "https://passport.example.org"


@pytest.fixture
def admin_client(kiosk_client, kiosk_login, db):
    issuing_store(db)
    kiosk_client.csrf = kiosk_login(kiosk_client, "root", "admin")
    return kiosk_client


def _check(client, path, **fields):
    data = {"csrf_token": client.csrf, "institution": ISSUER, "base_url": BASE,
            "paper": "letter", **fields}
    with open(path, "rb") as handle:
        data["roster"] = (handle, path.name)
        return client.post("/admin/cards/check", data=data, content_type="multipart/form-data")


def _text(page) -> str:
    """A page's text: tags dropped, entities read, white space collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", page.data.decode())).split())


def _download(client, url: str):
    response = client.get(url)
    data, headers, mimetype = response.data, dict(response.headers), response.mimetype
    response.close()
    return data, headers, mimetype


def _token(page) -> str:
    return re.search(rb'name="token" value="([0-9a-f]{32})"', page.data).group(1).decode()


def _finish(client, token) -> dict:
    """Wait for the run's thread to end, then read its status as the page polls it."""
    for thread in threading.enumerate():
        if thread.name == f"card-run-{token[:8]}":
            thread.join(timeout=60)
    status = client.get(f"/admin/cards/runs/{token}/status")
    assert status.status_code == 200
    return status.get_json()


def _issue(client, path, **fields) -> tuple[str, dict]:
    review = _check(client, path, **fields)
    assert review.status_code == 200, review.data
    token = _token(review)
    started = client.post("/admin/cards/issue", data={"csrf_token": client.csrf,
                                                      "token": token})
    assert started.status_code == 302
    assert started.headers["Location"].endswith(f"/admin/cards/runs/{token}")
    return token, _finish(client, token)


def test_pages_need_an_admin_and_forms_a_csrf_token(kiosk_client, kiosk_login, db, tmp_path):
    assert kiosk_client.get("/admin/cards").status_code == 302  # to /login
    kiosk_login(kiosk_client, "desk1", "desk")
    assert kiosk_client.get("/admin/cards").status_code == 403
    kiosk_client.post("/logout", data={"csrf_token": kiosk_login(kiosk_client, "root", "admin")})
    token = kiosk_login(kiosk_client, "root", "admin")
    page = kiosk_client.get("/admin/cards")
    assert page.status_code == 200 and b"Check roster" in page.data
    assert b'href="/admin/cards"' in kiosk_client.get("/admin").data
    path = write_roster(tmp_path / "r.csv", member_rows(2))
    with open(path, "rb") as handle:
        refused = kiosk_client.post("/admin/cards/check", data={"roster": (handle, "r.csv")},
                                    content_type="multipart/form-data")
    assert refused.status_code == 400
    assert kiosk_client.post("/admin/cards/issue", data={"token": "0" * 32}).status_code == 400
    assert token


def test_a_bad_roster_lists_every_problem_and_issues_nothing(admin_client, db, tmp_path):
    rows = member_rows(30)
    rows[4]["Exp Date"] = "31/01/2099"
    rows[20]["Membership Level"] = "Gold"
    page = _check(admin_client, write_roster(tmp_path / "r.csv", rows))
    assert page.status_code == 422
    assert "No card was issued: the roster has 2 problems" in _text(page)
    cells = re.findall(r"<tr><td class=\"num\">(\d+)</td><td>([^<]*)</td>", page.data.decode())
    assert cells == [("6", "Exp Date"), ("22", "Membership Level")]
    assert list(db.query("SELECT * FROM card_issuances")) == []
    uploads = [e for e in audit.entries(db) if e["action"] == "roster.uploaded"]
    assert uploads[0]["details"] == {"file": "r.csv", "valid": False, "problems": 2}


def test_preview_issue_progress_and_downloads(admin_client, db, tmp_path):
    rows = member_rows(25)
    path = write_roster(tmp_path / "members.csv", rows)
    review = _check(admin_client, path)
    text = _text(review)
    assert "25 cards to issue (25 new, 0 changed); 0 unchanged." in text
    assert "Ada Lovelace; Katherine Lovelace" in text  # the preview's first row
    token = _token(review)
    admin_client.post("/admin/cards/issue", data={"csrf_token": admin_client.csrf,
                                                  "token": token})
    status = _finish(admin_client, token)
    assert status["state"] == "done" and status["result"]["issued"] == 25
    assert [d["name"] for d in status["downloads"]] == ["cards.csv", "cards.pdf"]
    page = admin_client.get(f"/admin/cards/runs/{token}")
    assert "Issued 25 cards (25 new, 0 changed); 0 unchanged." in _text(page)
    assert f"/admin/cards/runs/{token}/files/cards.pdf".encode() in page.data
    data, headers, _ = _download(admin_client, f"/admin/cards/runs/{token}/files/cards.csv")
    assert headers["Content-Disposition"] == "attachment; filename=cards.csv"
    lines = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert [line["member_id"] for line in lines] == [row["Constituent ID"] for row in rows]
    assert lines[0]["card_url"] == f"{BASE}/card?c={lines[0]['payload']}"
    assert cards.verify(db, lines[0]["payload"]).valid
    pdf, _, mimetype = _download(admin_client, f"/admin/cards/runs/{token}/files/cards.pdf")
    assert pdf.startswith(b"%PDF") and mimetype == "application/pdf"
    batch = [e for e in audit.entries(db) if e["action"] == "cards.issued"][0]
    assert batch["actor"] == "root" and batch["details"]["to_issue"] == 25
    # uploaded again: nothing to issue
    again = _text(_check(admin_client, path))
    assert "0 cards to issue" in again and "Nothing to issue" in again
    runs = admin_client.get("/admin/cards").data.decode()
    assert re.search(rf"{ISSUER}</td><td>root</td><td class=\"num\">25</td>", runs)


def test_revoking_the_missing_members_from_the_page(admin_client, db, tmp_path):
    rows = member_rows(6)
    path = write_roster(tmp_path / "r.csv", rows)
    _issue(admin_client, path)
    gone = rows.pop(1)["Constituent ID"]
    write_roster(path, rows)
    kept = _text(_check(admin_client, path))
    assert "1 member with a valid card is not on this roster" in kept
    review = _check(admin_client, path, revoke_missing="yes")
    text = _text(review)
    assert f"revokes the cards of 1 member no longer on the roster: {gone}." in text
    assert "Issue 0 cards and revoke 1" in text
    token = _token(review)
    admin_client.post("/admin/cards/issue", data={"csrf_token": admin_client.csrf,
                                                  "token": token})
    status = _finish(admin_client, token)
    assert status["result"]["revoked"] == [gone]
    assert [r["member_id"] for r in db.query(
        "SELECT member_id FROM card_revocations")] == [gone]


def test_wallet_passes_from_the_page(admin_client, db, tmp_path):
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    path = write_roster(tmp_path / "r.csv", member_rows(3))
    with open(pki / "cert.pem", "rb") as cert, open(pki / "key.pem", "rb") as key, \
            open(pki / "wwdr.pem", "rb") as wwdr:
        token, status = _issue(admin_client, path, pkpass_cert=(cert, "cert.pem"),
                               pkpass_key=(key, "key.pem"), pkpass_wwdr=(wwdr, "wwdr.pem"),
                               pass_type_id=PASS_TYPE_ID, team_id=TEAM_ID)
    assert status["state"] == "done"
    assert [d["name"] for d in status["downloads"]] == ["cards.csv", "cards.pdf", "passes.zip"]
    bundle, _, _ = _download(admin_client, f"/admin/cards/runs/{token}/files/passes.zip")
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        assert archive.namelist() == ["pkpass/C100000.pkpass", "pkpass/C100001.pkpass",
                                      "pkpass/C100002.pkpass"]
    run_folder = next((tmp_path / "instance" / "card-runs").iterdir())
    assert not (run_folder / "pass").exists()  # the key is gone with the run


def test_half_a_wallet_setup_is_refused_before_anything(admin_client, db, tmp_path):
    path = write_roster(tmp_path / "r.csv", member_rows(2))
    refused = _check(admin_client, path, pass_type_id="pass.org.example.members")
    assert refused.status_code == 302
    flashed = _text(admin_client.get("/admin/cards"))
    assert "Wallet passes need the certificate, its key, the WWDR certificate" in flashed
    assert not list((tmp_path / "instance").glob("card-runs/*"))


def test_unknown_runs_and_files(admin_client):
    assert admin_client.get(f"/admin/cards/runs/{'a' * 32}").status_code == 404
    assert admin_client.get("/admin/cards/runs/nothex/status").status_code == 404
    assert admin_client.get(f"/admin/cards/runs/{'a' * 32}/files/cards.csv").status_code == 404
    expired = admin_client.post("/admin/cards/issue", data={"csrf_token": admin_client.csrf,
                                                            "token": "b" * 32})
    assert expired.status_code == 302


def test_a_running_run_shows_its_progress(admin_client, kiosk_app, tmp_path):
    from kiosk import cardruns

    token = "c" * 32
    (tmp_path / "instance" / "card-runs" / token).mkdir(parents=True)
    jobs = kiosk_app.extensions.setdefault("passport.card_runs", {})
    jobs[token] = {"state": "running", "stage": "print sheets", "done": 40, "total": 120,
                   "message": None, "result": None}
    try:
        page = admin_client.get(f"/admin/cards/runs/{token}")
        assert '<progress id="run-progress" max="120" value="40">' in page.data.decode()
        assert "Working: print sheets (40 of 120)" in _text(page)
        assert b"cardrun.js" in page.data
        status = admin_client.get(f"/admin/cards/runs/{token}/status").get_json()
        assert (status["state"], status["done"], status["downloads"]) == ("running", 40, [])
        with kiosk_app.test_request_context():
            with pytest.raises(cardruns.RunBusy):
                cardruns.start("d" * 32, "root", None)
    finally:
        jobs.pop(token)


def test_a_failed_run_serves_none_of_its_files(admin_client, tmp_path):
    # its signed cards were never recorded as issued: renewals and revocations would not
    # know them, so the page must not hand them out
    token = "e" * 32
    folder = tmp_path / "instance" / "card-runs" / token
    (folder / "out").mkdir(parents=True)
    (folder / "out" / "cards.csv").write_text("member_id,payload\nM-1,PYZ1X\n")
    (folder / "status.json").write_text(json.dumps(
        {"state": "failed", "stage": "recording", "done": 1, "total": 1,
         "message": "database is locked", "result": None}))
    status = admin_client.get(f"/admin/cards/runs/{token}/status").get_json()
    assert (status["state"], status["downloads"]) == ("failed", [])
    assert admin_client.get(f"/admin/cards/runs/{token}/files/cards.csv").status_code == 404
