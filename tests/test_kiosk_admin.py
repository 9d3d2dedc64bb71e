"""Admin console: kiosk site, list upload → dry-run diff → publish, rollback after its diff,
a list without the kiosk's own site, local times; member /card."""

import re
import zoneinfo
from datetime import date, datetime
from html import unescape

import pytest

from kiosk.site import set_kiosk_site
from passport import cards, institutions, keys, store, trust

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
    page = admin_client.post("/admin/lists/1/rollback",
                             data={"csrf_token": admin_client.csrf, "confirm": "yes"},
                             follow_redirects=True)
    assert b"List version 1 is active again" in page.data
    assert institutions.load_active(db).version == 1
    page = admin_client.post("/admin/lists/99/rollback",
                             data={"csrf_token": admin_client.csrf, "confirm": "yes"},
                             follow_redirects=True)
    assert b"list version 99 does not exist" in page.data
    assert b"list version 99 does not exist" in admin_client.get(
        "/admin/lists/99/rollback", follow_redirects=True).data


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
    from passport.rules import MEMBER_TEXT

    institutions.import_file(db, shipped_csv)
    keys.create_key(db, OMSI)
    payload = cards.issue(db, OMSI, "M-8", ["Ada Lovelace"], date(2099, 1, 1))
    page = unescape(kiosk_client.get("/card", query_string={"c": payload}).data.decode())
    assert "Oregon Museum of Science and Industry" in page
    assert f'<small class="muted">({OMSI})</small>' in page
    assert "Show this code at the admissions desk" in page
    trust.revoke_card(db, OMSI, "M-8")
    revoked = unescape(kiosk_client.get("/card", query_string={"c": payload}).data.decode())
    assert MEMBER_TEXT["CARD_REVOKED"] in revoked
    assert ">CARD_REVOKED<" not in revoked and "Not valid: CARD_REVOKED" not in revoked
    assert "Show this code at the admissions desk" not in revoked
    assert "contact your home site" in revoked


# --------------------------------------------------------------------------- issue 10

def without(shipped_csv, tmp_path, institution_id):
    """The shipped list without one institution."""
    lines = shipped_csv.read_text().splitlines(keepends=True)
    smaller = tmp_path / "smaller.csv"
    smaller.write_text("".join(line for line in lines if not line.startswith(institution_id)))
    return smaller


def test_rollback_shows_its_diff_and_asks_first(admin_client, db, shipped_csv, tmp_path):
    institutions.import_file(db, shipped_csv)
    institutions.import_file(db, without(shipped_csv, tmp_path, OMSI))
    index = admin_client.get("/admin").data.decode()
    # "Activate" leads to the review; no form on the console activates in one click
    assert 'action="/admin/lists/1/rollback"' not in index
    assert 'href="/admin/lists/1/rollback"' in index
    review = unescape(admin_client.get("/admin/lists/1/rollback").data.decode())
    assert "Activate list version 1?" in review
    assert "replaces the active version 2" in review
    added = review[review.index("<h3>Added</h3>"):]
    assert f"Oregon Museum of Science and Industry ({OMSI})" in added.split("</ul>")[0]
    assert "<h3>Removed</h3>" not in review
    assert 'name="confirm" value="yes"' in review and "Activate version 1</button>" in review
    # a POST without the review's confirmation changes nothing
    unconfirmed = admin_client.post("/admin/lists/1/rollback",
                                    data={"csrf_token": admin_client.csrf})
    assert unconfirmed.status_code == 302
    assert unconfirmed.headers["Location"] == "/admin/lists/1/rollback"
    assert institutions.active_version(db) == 2
    page = admin_client.post("/admin/lists/1/rollback",
                             data={"csrf_token": admin_client.csrf, "confirm": "yes"},
                             follow_redirects=True)
    assert b"List version 1 is active again" in page.data
    assert institutions.active_version(db) == 1
    same = admin_client.get("/admin/lists/1/rollback").data
    assert b"is the active list already" in same and b"Activate version 1</button>" not in same


def publish_token(review) -> str:
    return review.data.split(b'name="token" value="')[1].split(b'"')[0].decode()


def test_upload_without_the_own_site_needs_the_checkbox(admin_client, kiosk_app, db,
                                                        shipped_csv, tmp_path):
    institutions.import_file(db, shipped_csv)
    with kiosk_app.app_context():
        set_kiosk_site(EXPLORATORIUM)
    review = upload(admin_client, without(shipped_csv, tmp_path, EXPLORATORIUM))
    html = unescape(review.data.decode())
    assert review.status_code == 200 and 'id="own-site-warning"' in html
    assert f"this kiosk's own site Exploratorium ({EXPLORATORIUM}) is not on this list" in html
    assert 'name="allow_site_removal" value="yes" required' in html
    token = publish_token(review)
    refused = admin_client.post("/admin/lists/publish",
                                data={"csrf_token": admin_client.csrf, "token": token})
    assert refused.status_code == 409 and b"Not published" in refused.data
    assert b'name="allow_site_removal"' in refused.data  # the same review, to confirm on
    assert institutions.active_version(db) == 1
    page = admin_client.post("/admin/lists/publish", data={
        "csrf_token": admin_client.csrf, "token": token, "allow_site_removal": "yes"},
        follow_redirects=True)
    assert b"Published list version 2" in page.data
    assert b'id="site-not-listed"' in page.data  # and the console says what that means
    # a list with the site asks nothing
    review = upload(admin_client, shipped_csv)
    assert b"own-site-warning" not in review.data and b"allow_site_removal" not in review.data


def test_rollback_without_the_own_site_needs_the_checkbox(admin_client, kiosk_app, db,
                                                          shipped_csv, tmp_path):
    # version 1: no Exploratorium
    institutions.import_file(db, without(shipped_csv, tmp_path, EXPLORATORIUM))
    institutions.import_file(db, shipped_csv)
    with kiosk_app.app_context():
        set_kiosk_site(EXPLORATORIUM)
    review = unescape(admin_client.get("/admin/lists/1/rollback").data.decode())
    assert "this kiosk's own site Exploratorium" in review
    assert 'name="allow_site_removal" value="yes" required' in review
    refused = admin_client.post("/admin/lists/1/rollback", data={
        "csrf_token": admin_client.csrf, "confirm": "yes"}, follow_redirects=True)
    assert b"Not activated" in refused.data and institutions.active_version(db) == 2
    admin_client.post("/admin/lists/1/rollback", data={
        "csrf_token": admin_client.csrf, "confirm": "yes", "allow_site_removal": "yes"})
    assert institutions.active_version(db) == 1


def shown_times(html: str) -> list[str]:
    return re.findall(r"<td>(\d{4}-\d\d-\d\d[^<]*)</td>", html)


def test_admin_tables_show_the_site_local_time_to_the_minute(admin_client, kiosk_app, db,
                                                             shipped_csv):
    institutions.import_file(db, shipped_csv)
    created = store.get_list_version_row(db, 1)["created_at"]
    moment = datetime.fromisoformat(created)
    page = admin_client.get("/admin").data.decode()
    assert created not in page
    assert f"<td>{moment:%Y-%m-%d %H:%M} UTC</td>" in page  # no site yet: said to be UTC
    with kiosk_app.app_context():
        set_kiosk_site(EXPLORATORIUM)
    local = moment.astimezone(zoneinfo.ZoneInfo("America/Los_Angeles"))
    page = admin_client.get("/admin").data.decode()
    assert f"<td>{local:%Y-%m-%d %H:%M %Z}</td>" in page
    times = shown_times(page)  # the version's and the admin user's: all local
    assert times and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d P[SD]T", t) for t in times)


def test_local_time_filter(kiosk_app):
    from kiosk.site import local_time

    with kiosk_app.test_request_context():
        assert local_time("2026-12-01T04:19:42.366963+00:00") == "2026-12-01 04:19 UTC"
        assert local_time("2026-12-01T04:19:42") == "2026-12-01 04:19 UTC"  # naive: UTC
        assert local_time(None) == "" and local_time("") == ""
        assert local_time("not a time") == "not a time"


def test_desk_banner_while_its_site_is_off_the_active_list(admin_client, kiosk_app, db,
                                                           shipped_csv, tmp_path):
    institutions.import_file(db, shipped_csv)
    with kiosk_app.app_context():
        set_kiosk_site(EXPLORATORIUM)
    page = admin_client.get("/desk").data.decode()
    assert re.search(r'<p id="site-banner"[^>]* hidden>', page)
    assert "Desk at <strong>Exploratorium</strong>" in page
    assert admin_client.get("/desk/today").json["site_listed"] is True
    institutions.import_file(db, without(shipped_csv, tmp_path, EXPLORATORIUM),
                             allow_site_removal=True)
    page = unescape(admin_client.get("/desk").data.decode())
    banner = re.search(r'<p id="site-banner"[^>]*>(.*?)</p>', page, re.S)
    assert banner and " hidden" not in banner.group(0).split(">")[0]
    assert (f"This desk's site, {EXPLORATORIUM}, is not on the active participant list "
            "(version 2)") in banner.group(1)
    assert f"Desk at <strong>{EXPLORATORIUM}</strong>" in page
    assert "(not on the active list)" in page
    assert admin_client.get("/desk/today").json["site_listed"] is False
