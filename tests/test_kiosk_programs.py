"""Admin console per program: the programs page and its add form (login + CSRF), and the
list upload → review → publish → rollback pages for a program other than the default."""

import pytest

from passport import institutions, programs

SMALL_LIST = ("id,name,city,region,country,benefit,latitude,longitude\n"
              "zoo-a,Zoo A,Toledo,OH,US,100%,41.6528,-83.5379\n"
              "zoo-b,Zoo B,Akron,OH,US,50%,41.0814,-81.5190\n")


@pytest.fixture
def admin_client(kiosk_client, kiosk_login):
    kiosk_client.csrf = kiosk_login(kiosk_client, "root", "admin")
    return kiosk_client


def _token(page) -> str:
    return page.data.split(b'name="token" value="')[1].split(b'"')[0].decode()


def test_programs_page_needs_an_admin_and_the_form_needs_csrf(kiosk_client, kiosk_login, db):
    assert kiosk_client.get("/admin/programs").status_code == 302  # to /login
    kiosk_login(kiosk_client, "desk1", "desk")
    assert kiosk_client.get("/admin/programs").status_code == 403
    kiosk_client.get("/logout")
    token = kiosk_login(kiosk_client, "root", "admin")
    page = kiosk_client.get("/admin/programs")
    assert page.status_code == 200 and b"NARM" in page.data and b"Add a program" in page.data
    form = {"id": "garden60", "name": "Garden Network", "radius_miles": "60",
            "benefit": "general_admission"}
    assert kiosk_client.post("/admin/programs", data=form).status_code == 400  # no CSRF
    assert "garden60" not in [p.name for p in programs.programs(db)]
    added = kiosk_client.post("/admin/programs", data={**form, "csrf_token": token},
                              follow_redirects=True)
    assert b"Program garden60 added" in added.data
    assert programs.get_program(db, "garden60").distance_rule == "home"


def test_a_bad_program_is_refused_with_its_reason(admin_client, db):
    page = admin_client.post("/admin/programs", data={
        "csrf_token": admin_client.csrf, "id": "g1", "name": "Gardens", "radius_miles": "0",
        "residence_rule": "yes", "benefit": "general_admission"})
    assert page.status_code == 422 and b"the residence rule needs a radius" in page.data
    assert b'value="Gardens"' in page.data  # the form keeps what was typed
    assert "g1" not in [p.name for p in programs.programs(db)]


def test_upload_review_publish_rollback_for_a_program(admin_client, db, tmp_path):
    path = tmp_path / "zoos.csv"
    path.write_text(SMALL_LIST)

    def upload():
        with open(path, "rb") as handle:
            return admin_client.post(
                "/admin/lists/upload", content_type="multipart/form-data",
                data={"csrf_token": admin_client.csrf, "program": "aza",
                      "file": (handle, "zoos.csv")})

    review = upload()
    assert review.status_code == 200 and b'id="review-program">aza<' in review.data
    assert b'name="program" value="aza"' in review.data
    page = admin_client.post("/admin/lists/publish", follow_redirects=True, data={
        "csrf_token": admin_client.csrf, "token": _token(review), "program": "aza"})
    assert b"Published aza list version 1" in page.data
    assert institutions.active_version(db, "aza") == 1 and institutions.active_version(db) is None
    path.write_text(SMALL_LIST.replace("50%", "100%"))
    admin_client.post("/admin/lists/publish", data={
        "csrf_token": admin_client.csrf, "token": _token(upload()), "program": "aza"})
    assert institutions.active_version(db, "aza") == 2
    listing = admin_client.get("/admin?program=aza")
    assert b"/admin/lists/1/rollback?program=aza" in listing.data
    assert b"active version <strong>2</strong> (2 institutions)" in listing.data
    review = admin_client.get("/admin/lists/1/rollback?program=aza")
    assert b'id="rollback-program">aza<' in review.data and b"benefit_tier" in review.data
    page = admin_client.post("/admin/lists/1/rollback", follow_redirects=True, data={
        "csrf_token": admin_client.csrf, "confirm": "yes", "program": "aza"})
    assert b"The aza list version 1 is active again" in page.data
    assert institutions.active_version(db, "aza") == 1


def test_an_unknown_program_on_the_list_pages_is_flashed(admin_client, db, tmp_path):
    path = tmp_path / "zoos.csv"
    path.write_text(SMALL_LIST)
    with open(path, "rb") as handle:
        page = admin_client.post("/admin/lists/upload", content_type="multipart/form-data",
                                 follow_redirects=True,
                                 data={"csrf_token": admin_client.csrf, "program": "nope",
                                       "file": (handle, "zoos.csv")})
    assert b"no program profile named" in page.data and b"nope" in page.data
    assert institutions.list_versions(db, "aza") == []
