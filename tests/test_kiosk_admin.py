"""Admin console: kiosk site, list upload → dry-run diff → publish, rollback; member /card."""

from datetime import date

import pytest

from passport import cards, institutions, keys, trust

OMSI = "oregon-museum-of-science-and-industry-portland"
EXPLORATORIUM = "exploratorium-san-francisco"


@pytest.fixture
def admin_client(kiosk_client, kiosk_login):
    token = kiosk_login(kiosk_client, "root", "admin")
    kiosk_client.csrf = token
    return kiosk_client


def upload(client, path, name=None):
    with open(path, "rb") as handle:
        return client.post(
            "/admin/lists/upload",
            data={"csrf_token": client.csrf, "file": (handle, name or path.name)},
            content_type="multipart/form-data",
        )


def test_upload_review_publish_rollback(admin_client, db, shipped_csv, tmp_path):
    review = upload(admin_client, shipped_csv)
    assert review.status_code == 200 and b"Publish" in review.data
    assert b"368 institutions" in review.data
    with pytest.raises(institutions.NoActiveList):
        institutions.load_active(db)  # a dry run publishes nothing
    token = review.data.split(b'name="token" value="')[1].split(b'"')[0].decode()
    page = admin_client.post("/admin/lists/publish",
                             data={"csrf_token": admin_client.csrf, "token": token},
                             follow_redirects=True)
    assert b"Published list version 1" in page.data
    assert institutions.load_active(db).version == 1
    # the upload is gone once published
    again = admin_client.post("/admin/lists/publish",
                              data={"csrf_token": admin_client.csrf, "token": token},
                              follow_redirects=True)
    assert b"upload the file again" in again.data

    # version 2 drops a row: the review shows it as removed
    lines = shipped_csv.read_text().splitlines(keepends=True)
    smaller = tmp_path / "smaller.csv"
    smaller.write_text("".join(line for line in lines if not line.startswith(OMSI)))
    review = upload(admin_client, smaller)
    assert b"Removed" in review.data and OMSI.encode() in review.data
    token = review.data.split(b'name="token" value="')[1].split(b'"')[0].decode()
    admin_client.post("/admin/lists/publish", data={"csrf_token": admin_client.csrf,
                                                   "token": token})
    assert OMSI not in institutions.load_active(db).by_id
    page = admin_client.post("/admin/lists/1/rollback", data={"csrf_token": admin_client.csrf},
                             follow_redirects=True)
    assert b"List version 1 is active again" in page.data
    assert institutions.load_active(db).version == 1
    page = admin_client.post("/admin/lists/99/rollback", data={"csrf_token": admin_client.csrf},
                             follow_redirects=True)
    assert b"list version 99 does not exist" in page.data


def test_bad_upload_shows_row_errors_and_publishes_nothing(admin_client, db, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,city,country,latitude,longitude\nx-1,X,Town,US,123,0\n")
    response = upload(admin_client, bad)
    assert response.status_code == 422 and b"row-errors" in response.data
    assert b"Nothing was published" in response.data
    with pytest.raises(institutions.NoActiveList):
        institutions.load_active(db)
    wrong_type = upload(admin_client, bad, "list.exe")
    assert wrong_type.status_code == 302
    response = admin_client.post("/admin/lists/upload", data={"csrf_token": admin_client.csrf},
                                 follow_redirects=True)
    assert b"Choose a CSV" in response.data


def test_set_site(admin_client, db, shipped_csv):
    response = admin_client.post("/admin/site", data={"csrf_token": admin_client.csrf,
                                                      "site": EXPLORATORIUM},
                                 follow_redirects=True)
    assert b"is not on the active participant list" in response.data
    institutions.import_file(db, shipped_csv)
    response = admin_client.post("/admin/site", data={"csrf_token": admin_client.csrf,
                                                      "site": EXPLORATORIUM},
                                 follow_redirects=True)
    assert b"This kiosk&#39;s site is now" in response.data
    assert b"Desk at <strong>Exploratorium" in admin_client.get("/desk").data


def test_member_card_page(kiosk_client, db, shipped_csv):
    institutions.import_file(db, shipped_csv)
    keys.create_key(db, OMSI)
    payload = cards.issue(db, OMSI, "M-7", ["Ada Lovelace"], date(2099, 1, 1))
    page = kiosk_client.get("/card", query_string={"c": payload})
    assert page.status_code == 200
    assert b"<svg" in page.data and b"Ada Lovelace" in page.data and b"Valid" in page.data
    assert b"<?xml" not in page.data
    bad = kiosk_client.get("/card", query_string={"c": "hello"})
    assert bad.status_code == 400 and b"not a Passport card" in bad.data


def test_member_card_page_shows_home_name_and_plain_reasons(kiosk_client, db, shipped_csv):
    from html import unescape

    from passport.rules import REASON_TEXT

    institutions.import_file(db, shipped_csv)
    keys.create_key(db, OMSI)
    payload = cards.issue(db, OMSI, "M-8", ["Ada Lovelace"], date(2099, 1, 1))
    page = unescape(kiosk_client.get("/card", query_string={"c": payload}).data.decode())
    assert "Oregon Museum of Science and Industry" in page
    assert f'<small class="muted">({OMSI})</small>' in page
    assert "Show this code at the admissions desk" in page
    trust.revoke_card(db, OMSI, "M-8")
    revoked = unescape(kiosk_client.get("/card", query_string={"c": payload}).data.decode())
    assert REASON_TEXT["CARD_REVOKED"] in revoked
    assert ">CARD_REVOKED<" not in revoked and "Not valid: CARD_REVOKED" not in revoked
    assert "Show this code at the admissions desk" not in revoked
    assert "contact your home site" in revoked
