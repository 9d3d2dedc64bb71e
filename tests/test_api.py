"""The JSON API: every route, Bearer and session auth, idempotency, one error shape, and
every real response validated against kiosk/openapi.yaml."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from openapi_schema_validator import OAS31Validator

import kiosk
from passport import auth, cards, institutions, keys

SPEC = yaml.safe_load((Path(kiosk.__file__).parent / "openapi.yaml").read_text())
EXPLORATORIUM = "exploratorium-san-francisco"
OMSI = "oregon-museum-of-science-and-industry-portland"  # ~530 miles away: admit
CHABOT = "chabot-space-science-center-oakland"  # ~12 miles away: deny


def schema_for(path: str, method: str, status: int) -> dict:
    responses = SPEC["paths"][path][method]["responses"]
    response = responses[str(status)]
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    # Embed the components so "#/components/..." references resolve from this root.
    return {**schema, "components": SPEC["components"]}


def assert_matches(response, path: str, method: str = "get") -> dict:
    """The response's JSON is valid against the spec for its path, method and status."""
    assert response.is_json, response.data[:200]
    OAS31Validator(schema_for(path, method, response.status_code)).validate(response.json)
    return response.json


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.data
    assert response.is_json
    body = response.json
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code and body["error"]["message"]
    OAS31Validator({**SPEC["components"]["schemas"]["Error"]}).validate(body)


@pytest.fixture
def listed(db, shipped_csv):
    institutions.import_file(db, shipped_csv)
    return db


@pytest.fixture
def bearer(listed):
    _, token = auth.create_token(listed, "ticketing")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def card(listed):
    keys.create_key(listed, OMSI)
    return cards.issue(listed, OMSI, "M-1042", ["Ada Lovelace", "Charles Babbage"],
                       date(2099, 6, 30), party_size=6)


@pytest.fixture
def near_card(listed):
    keys.create_key(listed, CHABOT)
    return cards.issue(listed, CHABOT, "C-7", ["Grace Hopper"], date(2099, 6, 30))


def test_check_card_admit(kiosk_client, bearer, card):
    response = kiosk_client.post("/api/v1/check", json={"visit": EXPLORATORIUM, "card": card},
                                 headers=bearer)
    body = assert_matches(response, "/check", "post")
    assert body["admit"] is True and body["reasons"][0] == "ELIGIBLE"
    assert body["home"] == OMSI and 500 < body["home_distance_miles"] < 560
    assert body["list_version"] == 1 and body["card"]["names"] == ["Ada Lovelace",
                                                                   "Charles Babbage"]


def test_check_card_scanner_quirks(kiosk_client, bearer, card):
    response = kiosk_client.post("/api/v1/check",
                                 json={"visit": EXPLORATORIUM, "card": f" {card.lower()}\r\n"},
                                 headers=bearer)
    assert response.json["admit"] is True


def test_check_deny_within_radius(kiosk_client, bearer, near_card):
    response = kiosk_client.post("/api/v1/check",
                                 json={"visit": EXPLORATORIUM, "card": near_card},
                                 headers=bearer)
    body = assert_matches(response, "/check", "post")
    assert body["admit"] is False and "HOME_WITHIN_RADIUS" in body["reasons"]
    assert body["home_distance_miles"] < 90


def test_check_manual_home_with_residence(kiosk_client, bearer):
    response = kiosk_client.post("/api/v1/check", headers=bearer, json={
        "visit": EXPLORATORIUM, "home": OMSI, "expires": "2099-01-01",
        "residence": {"lat": 37.77, "lon": -122.42}, "membership": "group",
    })
    body = assert_matches(response, "/check", "post")
    assert body["admit"] is False and "RESIDENCE_WITHIN_RADIUS" in body["reasons"]
    assert body["residence_distance_miles"] < 10
    expired = kiosk_client.post("/api/v1/check", headers=bearer, json={
        "visit": EXPLORATORIUM, "home": OMSI, "expires": "2001-01-01"})
    assert "CARD_EXPIRED" in assert_matches(expired, "/check", "post")["reasons"]


def test_check_unknown_ids_are_reasons(kiosk_client, bearer):
    response = kiosk_client.post("/api/v1/check", headers=bearer,
                                 json={"visit": "no-such-site", "home": OMSI})
    body = assert_matches(response, "/check", "post")
    assert body["admit"] is False and "VISIT_NOT_PARTICIPATING" in body["reasons"]


@pytest.mark.parametrize("payload", [
    {},
    {"visit": EXPLORATORIUM},
    {"visit": EXPLORATORIUM, "home": OMSI, "card": "PYZ1X"},
    {"visit": EXPLORATORIUM, "home": OMSI, "on": "tomorrow"},
    {"visit": EXPLORATORIUM, "home": OMSI, "on": "20260704"},  # fromisoformat alone takes it
    {"visit": EXPLORATORIUM, "home": OMSI, "residence": {"lat": 91, "lon": 0}},
    {"visit": EXPLORATORIUM, "home": OMSI, "residence": [1, 2]},
    {"visit": EXPLORATORIUM, "home": OMSI, "postal": "ABCDE", "country": "US"},
    {"visit": EXPLORATORIUM, "home": OMSI, "residence": {"place": "Xyzzyville, ON"}},
    {"visit": EXPLORATORIUM, "home": OMSI, "party": {"adults": -1}},
    {"visit": 5, "home": OMSI},
    {"visit": "Not An Id!", "home": OMSI},
])
def test_check_bad_input(kiosk_client, bearer, payload):
    response = kiosk_client.post("/api/v1/check", json=payload, headers=bearer)
    assert_error(response, 400, "invalid_input")
    assert_matches(response, "/check", "post")


def test_check_not_json(kiosk_client, bearer):
    response = kiosk_client.post("/api/v1/check", data="visit=x", headers=bearer)
    assert_error(response, 400, "bad_request")


def test_no_active_list(kiosk_client, db):
    _, token = auth.create_token(db, "t")
    response = kiosk_client.post("/api/v1/check", json={"visit": EXPLORATORIUM, "home": OMSI},
                                 headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 503, "no_active_list")


def test_checkins_idempotent(kiosk_client, bearer, card, db):
    body = {"visit": EXPLORATORIUM, "card": card, "party_size": 3}
    headers = {**bearer, "Idempotency-Key": "order-81"}
    first = kiosk_client.post("/api/v1/checkins", json=body, headers=headers)
    created = assert_matches(first, "/checkins", "post")
    assert first.status_code == 201 and created["admit"] is True
    assert created["party_size"] == 3 and created["source"] == "api"
    assert created["staff_user"] == "token:ticketing" and created["member_id"] == "M-1042"
    assert created["decision"]["reasons"] == ["ELIGIBLE"]
    assert created["idempotency_key"] == "order-81"
    again = kiosk_client.post("/api/v1/checkins", json=body, headers=headers)
    replay = assert_matches(again, "/checkins", "post")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert replay["id"] == created["id"] and replay["party_size"] == 3
    assert replay["idempotency_key"] == "order-81"
    assert db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == 1
    # without a key, each request logs
    kiosk_client.post("/api/v1/checkins", json=body, headers=bearer)
    assert db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == 2


def test_checkins_denial_logged_and_listed(kiosk_client, bearer, near_card, kiosk_clock):
    response = kiosk_client.post("/api/v1/checkins", headers=bearer,
                                 json={"visit": EXPLORATORIUM, "card": near_card})
    assert response.status_code == 201 and response.json["admit"] is False
    listed = kiosk_client.get("/api/v1/checkins", headers=bearer)
    rows = assert_matches(listed, "/checkins")["checkins"]
    assert [r["id"] for r in rows] == [response.json["id"]]
    assert rows[0]["reasons"] == response.json["reasons"] and rows[0]["names"] == ["Grace Hopper"]
    today = kiosk_clock.now.date().isoformat()  # the app's clock, in UTC
    assert len(kiosk_client.get(f"/api/v1/checkins?from={today}&to={today}&limit=5",
                                headers=bearer).json["checkins"]) == 1
    assert kiosk_client.get("/api/v1/checkins?to=2000-01-01",
                            headers=bearer).json["checkins"] == []
    assert kiosk_client.get(f"/api/v1/checkins?visit={CHABOT}",
                            headers=bearer).json["checkins"] == []


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "from=yesterday"])
def test_checkins_bad_query(kiosk_client, bearer, query):
    response = kiosk_client.get(f"/api/v1/checkins?{query}", headers=bearer)
    assert_error(response, 400, "invalid_input")


@pytest.mark.parametrize("body", [{"visit": EXPLORATORIUM, "home": OMSI, "party_size": 0},
                                  {"visit": EXPLORATORIUM, "home": OMSI, "party_size": "2"}])
def test_checkins_bad_party_size(kiosk_client, bearer, body, db):
    assert_error(kiosk_client.post("/api/v1/checkins", json=body, headers=bearer), 400,
                 "invalid_input")
    assert db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == 0


def test_eligible_nearest_first(kiosk_client, bearer):
    response = kiosk_client.get(f"/api/v1/eligible?home={OMSI}&limit=10", headers=bearer)
    body = assert_matches(response, "/eligible")
    miles = [site["distance_miles"] for site in body["eligible"]]
    assert len(miles) == 10 and miles == sorted(miles) and miles[0] > 90
    assert all(site["id"] != OMSI for site in body["eligible"])
    with_home = kiosk_client.get(
        f"/api/v1/eligible?home={OMSI}&residence=37.8,-122.4", headers=bearer).json
    assert EXPLORATORIUM not in {s["id"] for s in with_home["eligible"]}
    by_lat_lon = kiosk_client.get(
        f"/api/v1/eligible?home={OMSI}&lat=37.8&lon=-122.4", headers=bearer).json
    assert by_lat_lon["eligible"] == with_home["eligible"]


@pytest.mark.parametrize("query", ["", "home=nope-nope", f"home={OMSI}&lat=100&lon=0",
                                   f"home={OMSI}&residence=1"])
def test_eligible_bad_query(kiosk_client, bearer, query):
    assert_error(kiosk_client.get(f"/api/v1/eligible?{query}", headers=bearer), 400,
                 "invalid_input")


def test_institutions_search(kiosk_client, bearer):
    response = kiosk_client.get("/api/v1/institutions?q=explorat&limit=5", headers=bearer)
    body = assert_matches(response, "/institutions")
    assert body["list_version"] == 1
    assert EXPLORATORIUM in [row["id"] for row in body["institutions"]]
    everything = kiosk_client.get("/api/v1/institutions?limit=1000", headers=bearer).json
    assert len(everything["institutions"]) == 368


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/api/v1/check"), ("post", "/api/v1/checkins"), ("get", "/api/v1/checkins"),
    ("get", "/api/v1/eligible?home=x"), ("get", "/api/v1/institutions"),
])
def test_every_route_needs_auth(kiosk_client, listed, method, path):
    response = getattr(kiosk_client, method)(path, json={})
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bad = getattr(kiosk_client, method)(path, json={},
                                        headers={"Authorization": "Bearer ppt_nope"})
    assert_error(bad, 401, "unauthorized")


def test_revoked_token_rejected(kiosk_client, listed):
    token_id, token = auth.create_token(listed, "old")
    auth.revoke_token(listed, token_id)
    response = kiosk_client.get("/api/v1/institutions",
                                headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 401, "unauthorized")


def test_session_auth_needs_csrf_header_on_writes(kiosk_client, kiosk_login, listed):
    csrf = kiosk_login(kiosk_client)
    body = {"visit": EXPLORATORIUM, "home": OMSI}
    assert kiosk_client.get("/api/v1/institutions?q=ore").status_code == 200
    assert_error(kiosk_client.post("/api/v1/check", json=body), 400, "csrf_failed")
    assert_error(kiosk_client.post("/api/v1/check", json=body,
                                   headers={"X-CSRF-Token": "forged"}), 400, "csrf_failed")
    ok = kiosk_client.post("/api/v1/check", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json["admit"] is True
    logged = kiosk_client.post("/api/v1/checkins", json=body, headers={"X-CSRF-Token": csrf})
    assert logged.json["source"] == "desk" and logged.json["staff_user"] == "desk1"


def test_error_shape_404_405(kiosk_client):
    assert_error(kiosk_client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(kiosk_client.get("/api/v2/check"), 404, "not_found")
    response = kiosk_client.delete("/api/v1/check")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    # pages keep HTML errors
    assert not kiosk_client.get("/nothing-here").is_json


def test_error_shape_500(db_path):
    app = kiosk.create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False,
                            "DB": str(db_path), "SECRET_KEY": "test-only-secret"})

    def boom():
        raise RuntimeError("secret internals")

    app.add_url_rule("/api/v1/_boom", view_func=boom)
    response = app.test_client().get("/api/v1/_boom")
    assert_error(response, 500, "internal_error")
    assert b"secret internals" not in response.data


def test_healthz_after_warm_up(kiosk_app, kiosk_client, listed):
    from kiosk.warmup import warm

    info = warm(kiosk_app)
    assert info["list_version"] == 1 and info["institutions"] == 368
    response = kiosk_client.get("/healthz")
    assert response.status_code == 200 and response.json["list_version"] == 1


def test_new_list_version_used_without_restart(kiosk_client, bearer, listed, shipped_csv,
                                               tmp_path):
    body = {"visit": EXPLORATORIUM, "home": OMSI}
    first = kiosk_client.post("/api/v1/check", json=body, headers=bearer).json
    assert first["admit"] is True and first["list_version"] == 1
    without_omsi = tmp_path / "v2.csv"
    without_omsi.write_text("".join(line for line in shipped_csv.read_text().splitlines(True)
                                    if not line.startswith(OMSI)))
    institutions.import_file(listed, without_omsi)  # published by another process/page
    second = kiosk_client.post("/api/v1/check", json=body, headers=bearer).json
    assert second["list_version"] == 2 and "HOME_NOT_PARTICIPATING" in second["reasons"]
    institutions.rollback(listed, 1)
    assert kiosk_client.post("/api/v1/check", json=body, headers=bearer).json["admit"] is True


@pytest.fixture
def individual_card(listed):
    keys.create_key(listed, OMSI)
    return cards.issue(listed, OMSI, "M-7", ["Ada Lovelace"], date(2099, 6, 30))


def logged_reasons(db) -> list:
    import json

    return [json.loads(r[0]) for r in db.execute("SELECT reasons FROM checkins ORDER BY id")]


def test_checkin_decided_with_the_logged_party_size(kiosk_client, bearer, individual_card, db):
    """A bare party_size is decided as the most generous split (up to 2 adults, the rest
    children): an individual card covers only its cardholder, so 3 is too large."""
    response = kiosk_client.post("/api/v1/checkins", headers=bearer, json={
        "visit": EXPLORATORIUM, "card": individual_card, "party_size": 3})
    body = assert_matches(response, "/checkins", "post")
    assert body["admit"] is True and body["party_size"] == 3
    assert body["reasons"] == ["ELIGIBLE", "PARTY_TOO_LARGE"]
    assert body["decision"]["covered"] == 1 and body["decision"]["party_size"] == 3
    assert "PARTY_TOO_LARGE" in body["decision"]["text"]
    assert logged_reasons(db) == [["ELIGIBLE", "PARTY_TOO_LARGE"]]


def test_checkin_party_size_split_generously_for_a_group(kiosk_client, bearer, card):
    three = kiosk_client.post("/api/v1/checkins", headers=bearer, json={
        "visit": EXPLORATORIUM, "card": card, "party_size": 3}).json
    assert three["reasons"] == ["ELIGIBLE"] and three["decision"]["covered"] == 3
    seven = kiosk_client.post("/api/v1/checkins", headers=bearer, json={
        "visit": EXPLORATORIUM, "card": card, "party_size": 7}).json
    assert seven["reasons"] == ["ELIGIBLE", "PARTY_TOO_LARGE"]
    assert seven["decision"]["covered"] == 6 and seven["party_size"] == 7


def test_checkin_decided_with_the_logged_party(kiosk_client, bearer, card, db):
    response = kiosk_client.post("/api/v1/checkins", headers=bearer, json={
        "visit": EXPLORATORIUM, "card": card, "party": {"adults": 3, "children": 1}})
    body = assert_matches(response, "/checkins", "post")
    assert body["party_size"] == 4 and body["reasons"] == ["ELIGIBLE", "PARTY_TOO_LARGE"]
    assert body["decision"]["covered"] == 3
    agreeing = kiosk_client.post("/api/v1/checkins", headers=bearer, json={
        "visit": EXPLORATORIUM, "card": card, "party": {"adults": 2, "children": 2},
        "party_size": 4})
    assert agreeing.status_code == 201 and agreeing.json["reasons"] == ["ELIGIBLE"]
    manual = kiosk_client.post("/api/v1/checkins", headers=bearer, json={
        "visit": EXPLORATORIUM, "home": OMSI, "membership": "individual",
        "party": {"adults": 1, "children": 1}})
    assert manual.json["reasons"] == ["ELIGIBLE", "PARTY_TOO_LARGE"]
    assert logged_reasons(db)[-1] == ["ELIGIBLE", "PARTY_TOO_LARGE"]


def test_checkin_party_and_party_size_must_agree(kiosk_client, bearer, card, db):
    response = kiosk_client.post("/api/v1/checkins", headers=bearer, json={
        "visit": EXPLORATORIUM, "card": card, "party": {"adults": 2, "children": 2},
        "party_size": 3})
    assert_error(response, 400, "invalid_input")
    assert "party_size" in response.json["error"]["message"]
    assert db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == 0


@pytest.mark.parametrize(("extra", "field"), [
    ({"residence": {"lat": "37.8", "lon": -122.4}}, "residence lat"),
    ({"residence": {"lat": 37.8, "lon": "-122.4"}}, "residence lon"),
    ({"residence": {"lat": True, "lon": -122.4}}, "residence lat"),
    ({"residence": {"lat": None, "lon": -122.4}}, "residence lat"),
    ({"party": {"adults": 2.5}}, "party.adults"),
    ({"party": {"adults": "2"}}, "party.adults"),
    ({"party": {"adults": True}}, "party.adults"),
    ({"party": {"adults": 1, "children": "1"}}, "party.children"),
    ({"party": {"adults": 1, "children": 1.0}}, "party.children"),
    ({"party": {"named_present": "yes"}}, "party.named_present"),
    ({"party": {"named_present": 1}}, "party.named_present"),
    ({"party": {"adult": 2}}, "adult"),
    ({"party": {"adults": 0, "children": 0}}, "party"),
    ({"party_size": True}, "party_size"),
    ({"party_size": 2.0}, "party_size"),
])
def test_json_types_checked_naming_the_field(kiosk_client, bearer, db, extra, field):
    body = {"visit": EXPLORATORIUM, "home": OMSI, **extra}
    paths = ["/api/v1/checkins"] if "party_size" in extra else ["/api/v1/check",
                                                                 "/api/v1/checkins"]
    for path in paths:
        response = kiosk_client.post(path, json=body, headers=bearer)
        assert_error(response, 400, "invalid_input")
        assert field in response.json["error"]["message"], response.json
    assert db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == 0


def test_json_numbers_accepted(kiosk_client, bearer):
    response = kiosk_client.post("/api/v1/check", headers=bearer, json={
        "visit": EXPLORATORIUM, "home": OMSI, "residence": {"lat": 45, "lon": -122.6},
        "party": {"adults": 2, "children": 0, "named_present": True}})
    body = assert_matches(response, "/check", "post")
    assert body["admit"] is True and body["party_size"] == 2


@pytest.mark.parametrize("change", [
    {"party_size": 9}, {"party": {"adults": 1, "children": 3}}, {"visit": CHABOT},
    {"card": None, "home": OMSI},
])
def test_idempotency_key_reused_with_another_body(kiosk_client, bearer, card, db, change):
    """Same key, different request (visit, home/card member or party size): 422, one fixed
    error shape, nothing logged; the original body still replays."""
    body = {"visit": EXPLORATORIUM, "card": card, "party_size": 3}
    headers = {**bearer, "Idempotency-Key": "order-81"}
    assert kiosk_client.post("/api/v1/checkins", json=body, headers=headers).status_code == 201
    changed = {k: v for k, v in {**body, **change}.items() if v is not None}
    if "party" in change:
        changed.pop("party_size")
    response = kiosk_client.post("/api/v1/checkins", json=changed, headers=headers)
    assert_error(response, 422, "idempotency_key_reused")
    assert_matches(response, "/checkins", "post")
    assert "order-81" in response.json["error"]["message"]
    assert db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == 1
    same = kiosk_client.post("/api/v1/checkins", json=body, headers=headers)
    assert same.status_code == 200


def test_idempotency_keys_scoped_per_client(kiosk_client, bearer, card, db, kiosk_login):
    body = {"visit": EXPLORATORIUM, "card": card}
    first = kiosk_client.post("/api/v1/checkins", json=body,
                              headers={**bearer, "Idempotency-Key": "k-1"})
    _, other_token = auth.create_token(db, "other-system")
    other = kiosk_client.post("/api/v1/checkins", json={**body, "party_size": 2},
                              headers={"Authorization": f"Bearer {other_token}",
                                       "Idempotency-Key": "k-1"})
    csrf = kiosk_login(kiosk_client)
    desk = kiosk_client.post("/api/v1/checkins", json=body,
                             headers={"X-CSRF-Token": csrf, "Idempotency-Key": "k-1"})
    assert [r.status_code for r in (first, other, desk)] == [201, 201, 201]
    assert len({r.json["id"] for r in (first, other, desk)}) == 3
    assert {r.json["idempotency_key"] for r in (first, other, desk)} == {"k-1"}
    stored = [r[0] for r in db.execute("SELECT idempotency_key FROM checkins ORDER BY id")]
    token_id = auth.verify_token(db, bearer["Authorization"].split()[1]).token_id
    assert stored[0] == f"t{token_id}:k-1" and stored[2] == "s:desk1:k-1"
    listed = assert_matches(kiosk_client.get("/api/v1/checkins", headers=bearer), "/checkins")
    assert [r["idempotency_key"] for r in listed["checkins"]] == ["k-1", "k-1", "k-1"]


@pytest.mark.parametrize("template", ["bearer {}", "BEARER {}", "bEaReR {}", "Bearer  {}",
                                      "Bearer\t{}", "bearer {} "])
def test_bearer_scheme_is_case_insensitive(kiosk_client, listed, template):
    """RFC 7235: the auth scheme is case-insensitive; spaces or tabs separate the token."""
    _, token = auth.create_token(listed, "ticketing")
    response = kiosk_client.get("/api/v1/institutions?limit=1",
                                headers={"Authorization": template.format(token)})
    assert response.status_code == 200, response.json
    posted = kiosk_client.post("/api/v1/check", json={"visit": EXPLORATORIUM, "home": OMSI},
                               headers={"Authorization": template.format(token)})
    assert posted.status_code == 200 and posted.json["admit"] is True


@pytest.mark.parametrize("header", ["Basic {}", "Bearer", "bearer ", "Token {}", "{}"])
def test_other_authorization_schemes_refused(kiosk_client, listed, header):
    _, token = auth.create_token(listed, "ticketing")
    response = kiosk_client.get("/api/v1/institutions",
                                headers={"Authorization": header.format(token)})
    assert_error(response, 401, "unauthorized")


def test_institutions_total_counts_every_match(kiosk_client, bearer, listed):
    """``total`` is the number of matches, however many ``limit`` returned; it agrees with
    the unlimited search for several texts (including case and punctuation)."""
    default = assert_matches(kiosk_client.get("/api/v1/institutions", headers=bearer),
                             "/institutions")
    assert len(default["institutions"]) == 20 and default["total"] == 368
    for text in ("science", "SCIENCE", "san", "Children's", "97214", "zz-no-match", "-", "a",
                 "ÁRIA", "ária", "’s"):
        few = kiosk_client.get("/api/v1/institutions", query_string={"q": text, "limit": 3},
                               headers=bearer).json
        every = institutions.search(listed, text, None)
        assert few["total"] == len(every), text
        assert [r["id"] for r in few["institutions"]] == [r["id"] for r in every[:3]]


@pytest.mark.parametrize(("utc_instant", "admit"), [
    (datetime(2026, 7, 1, 6, 59, tzinfo=UTC), True),   # 23:59 on 30 June in San Francisco
    (datetime(2026, 7, 1, 7, 1, tzinfo=UTC), False),   # 00:01 on 1 July there
])
def test_card_expiry_is_judged_on_the_sites_local_date_by_the_app_clock(
        kiosk_client, kiosk_clock, bearer, listed, utc_instant, admit):
    keys.create_key(listed, OMSI)
    payload = cards.issue(listed, OMSI, "M-9", ["Ada Lovelace"], date(2026, 6, 30))
    kiosk_clock.now = utc_instant
    body = kiosk_client.post("/api/v1/check", json={"visit": EXPLORATORIUM, "card": payload},
                             headers=bearer).json
    assert body["admit"] is admit and body["on"] == ("2026-06-30" if admit else "2026-07-01")
    assert ("CARD_EXPIRED" in body["reasons"]) is not admit


# -- issue 10: a misread is not a denial; numbers that add up ------------------------------

def count_checkins(db) -> int:
    return db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0]


@pytest.mark.parametrize("junk", ["PYZ1GARBAGE", "hello world", "PYZ1", "truncated"])
def test_misread_card_is_422_and_logs_nothing(kiosk_client, bearer, card, db, junk):
    payload = card[:-12] if junk == "truncated" else junk
    body = {"visit": EXPLORATORIUM, "card": payload, "party_size": 2}
    logged = kiosk_client.post("/api/v1/checkins", json=body,
                               headers={**bearer, "Idempotency-Key": "scan-1"})
    assert_error(logged, 422, "card_unreadable")
    assert_matches(logged, "/checkins", "post")
    assert "scan again or use the printed-card flow" in logged.json["error"]["message"]
    assert count_checkins(db) == 0
    checked = kiosk_client.post("/api/v1/check", json=body, headers=bearer)
    assert_error(checked, 422, "card_unreadable")
    assert_matches(checked, "/check", "post")
    # the same card read whole is a visit, logged under the key the misread did not use
    good = kiosk_client.post("/api/v1/checkins", json={**body, "card": card},
                             headers={**bearer, "Idempotency-Key": "scan-1"})
    assert good.status_code == 201 and count_checkins(db) == 1


def test_card_with_a_bad_signature_is_a_logged_denial(kiosk_client, bearer, card, db):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    forged = cards.sign(cards.decode(card), Ed25519PrivateKey.generate())
    checked = kiosk_client.post("/api/v1/check", json={"visit": EXPLORATORIUM, "card": forged},
                                headers=bearer)
    assert assert_matches(checked, "/check", "post")["admit"] is False
    logged = kiosk_client.post("/api/v1/checkins", headers=bearer,
                               json={"visit": EXPLORATORIUM, "card": forged})
    row = assert_matches(logged, "/checkins", "post")
    assert logged.status_code == 201 and row["admit"] is False
    assert row["reasons"] == ["CARD_SIGNATURE_INVALID"] and row["kind"] == "visit"
    assert row["member_id"] == "M-1042" and count_checkins(db) == 1


def log_visit(client, headers, card_payload, party_size=1):
    response = client.post("/api/v1/checkins", headers=headers, json={
        "visit": EXPLORATORIUM, "card": card_payload, "party_size": party_size})
    assert response.status_code == 201, response.data
    return response.json


def undo_over_api(client, headers, checkin_id):
    return client.post(f"/api/v1/checkins/{checkin_id}/undo", headers=headers)


def test_undo_over_the_api(kiosk_client, bearer, card, db):
    visit = log_visit(kiosk_client, bearer, card, party_size=3)
    undone = undo_over_api(kiosk_client, bearer, visit["id"])
    row = assert_matches(undone, "/checkins/{id}/undo", "post")
    assert undone.status_code == 201
    assert (row["kind"], row["undoes"], row["undone"]) == ("undo", visit["id"], False)
    assert (row["source"], row["staff_user"]) == ("api", "token:ticketing")
    assert row["party_size"] == 3 and row["id"] == visit["id"] + 1
    # twice: refused, nothing more logged; an undo cannot be undone; an unknown id is a 404
    again = undo_over_api(kiosk_client, bearer, visit["id"])
    assert_error(again, 409, "already_undone")
    assert_matches(again, "/checkins/{id}/undo", "post")
    assert f"#{row['id']}" in again.json["error"]["message"]
    assert_error(undo_over_api(kiosk_client, bearer, row["id"]), 409, "not_undoable")
    missing = undo_over_api(kiosk_client, bearer, 999)
    assert_error(missing, 404, "not_found")
    assert_matches(missing, "/checkins/{id}/undo", "post")
    assert_error(undo_over_api(kiosk_client, bearer, "x"), 404, "not_found")
    assert_error(undo_over_api(kiosk_client, bearer, 2**70), 404, "not_found")
    assert count_checkins(db) == 2
    listed = {r["id"]: r for r in kiosk_client.get("/api/v1/checkins", headers=bearer).json[
        "checkins"]}
    assert listed[visit["id"]]["undone"] is True
    assert listed[visit["id"]]["undone_by"] == row["id"]


def test_api_undo_keeps_the_desks_window(kiosk_app, kiosk_client, bearer, card, kiosk_clock,
                                         db):
    window = timedelta(seconds=kiosk_app.config["UNDO_WINDOW_SECONDS"])
    first = log_visit(kiosk_client, bearer, card)
    kiosk_clock.now += window  # the window's last instant: still undoable
    assert undo_over_api(kiosk_client, bearer, first["id"]).status_code == 201
    late = log_visit(kiosk_client, bearer, card)
    kiosk_clock.now += window + timedelta(microseconds=1)  # just outside
    refused = undo_over_api(kiosk_client, bearer, late["id"])
    assert_error(refused, 409, "undo_window_passed")
    assert_matches(refused, "/checkins/{id}/undo", "post")
    assert count_checkins(db) == 3


def test_undo_over_the_api_needs_auth_and_csrf(kiosk_client, kiosk_login, card, db):
    assert_error(undo_over_api(kiosk_client, {}, 1), 401, "unauthorized")
    csrf = kiosk_login(kiosk_client)
    visit = kiosk_client.post("/api/v1/checkins", headers={"X-CSRF-Token": csrf},
                              json={"visit": EXPLORATORIUM, "card": card}).json
    assert_error(undo_over_api(kiosk_client, {}, visit["id"]), 400, "csrf_failed")
    undone = undo_over_api(kiosk_client, {"X-CSRF-Token": csrf}, visit["id"])
    assert undone.status_code == 201
    assert (undone.json["source"], undone.json["staff_user"]) == ("desk", "desk1")


def test_entries_say_what_they_are_so_sums_add_up(kiosk_client, bearer, card, near_card):
    parties = [log_visit(kiosk_client, bearer, card, party_size=n) for n in (4, 6, 5, 3)]
    denied = log_visit(kiosk_client, bearer, near_card, party_size=2)
    for row in parties[1:3]:
        assert undo_over_api(kiosk_client, bearer, row["id"]).status_code == 201
    rows = assert_matches(kiosk_client.get("/api/v1/checkins", headers=bearer),
                          "/checkins")["checkins"]
    by_id = {r["id"]: r for r in rows}
    assert [by_id[r["id"]]["undone"] for r in parties] == [False, True, True, False]
    assert by_id[denied["id"]]["kind"] == "visit" and by_id[denied["id"]]["undone"] is False
    undos = [r for r in rows if r["kind"] == "undo"]
    assert sorted(r["undoes"] for r in undos) == [parties[1]["id"], parties[2]["id"]]
    assert all(r["undoes"] is None for r in rows if r["kind"] == "visit")
    # every existing key is still there; undo rows repeat the facts of what they undo
    assert all({"id", "at", "visit", "home", "admit", "reasons", "party_size",
                "idempotency_key", "undone_by"} <= set(r) for r in rows)
    assert all(r["admit"] is True for r in undos)
    admitted = sum(r["party_size"] for r in rows
                   if r["kind"] == "visit" and not r["undone"] and r["admit"])
    assert admitted == 4 + 3
    # what a sum over every admitted row gives: the undone parties twice over
    assert sum(r["party_size"] for r in rows if r["admit"]) == 4 + 6 + 5 + 3 + 6 + 5


def test_home_filter(kiosk_client, bearer, card, near_card):
    far = log_visit(kiosk_client, bearer, card)
    near = log_visit(kiosk_client, bearer, near_card)
    for home, expected in ((OMSI, [far["id"]]), (CHABOT, [near["id"]]), ("nowhere", [])):
        answer = kiosk_client.get(f"/api/v1/checkins?home={home}", headers=bearer)
        assert [r["id"] for r in assert_matches(answer, "/checkins")["checkins"]] == expected
    both = kiosk_client.get(f"/api/v1/checkins?home={CHABOT}&visit={EXPLORATORIUM}",
                            headers=bearer).json["checkins"]
    assert [r["id"] for r in both] == [near["id"]]


@pytest.mark.parametrize(("query", "named"), [
    ("frm=2026-01-01", "'frm'"),
    ("home_id=x&limit=5", "'home_id'"),
    ("site=a&page=2", "'page', 'site'"),
    ("home=a&home=b", "'home'"),
])
def test_unknown_or_repeated_query_parameter_is_named(kiosk_client, bearer, query, named):
    response = kiosk_client.get(f"/api/v1/checkins?{query}", headers=bearer)
    assert_error(response, 400, "invalid_input")
    assert_matches(response, "/checkins")
    assert named in response.json["error"]["message"]


def test_plain_dates_are_the_sites_local_days(kiosk_app, kiosk_client, bearer, card,
                                              kiosk_clock):
    """23:59 and 00:01 around the Exploratorium's midnight (Los Angeles) are 07:59 and 08:01
    on one UTC day: with the kiosk's site set, `from`/`to` are its local days, as the desk's
    "Today"; with no site set, UTC days."""
    from kiosk.site import set_kiosk_site

    los_angeles = ZoneInfo("America/Los_Angeles")
    kiosk_clock.now = datetime(2026, 1, 15, 23, 59, tzinfo=los_angeles)
    late = log_visit(kiosk_client, bearer, card)
    kiosk_clock.now = datetime(2026, 1, 16, 0, 1, tzinfo=los_angeles)
    early = log_visit(kiosk_client, bearer, card)

    def day(text):
        answer = kiosk_client.get(f"/api/v1/checkins?from={text}&to={text}", headers=bearer)
        return [r["id"] for r in assert_matches(answer, "/checkins")["checkins"]]

    assert day("2026-01-16") == [early["id"], late["id"]]  # no site: UTC days
    with kiosk_app.app_context():
        set_kiosk_site(EXPLORATORIUM)
    assert day("2026-01-15") == [late["id"]]
    assert day("2026-01-16") == [early["id"]]
    # a date-time with an offset is that instant; one without is the site's local time
    assert [r["id"] for r in kiosk_client.get(
        "/api/v1/checkins?from=2026-01-16T08:00:00%2B00:00", headers=bearer).json[
        "checkins"]] == [early["id"]]
    assert [r["id"] for r in kiosk_client.get(
        "/api/v1/checkins?to=2026-01-16T00:00:00", headers=bearer).json["checkins"]] == [
        late["id"]]


def test_cursor_pages_through_more_than_1000_entries(kiosk_client, bearer, listed, db):
    from passport import checkins

    decision = {"admit": True, "reasons": ["ELIGIBLE"], "visit": EXPLORATORIUM, "home": OMSI,
                "covered": 1, "home_distance_miles": 532.1, "residence_distance_miles": None,
                "list_version": 1}
    start = datetime(2026, 6, 15, 16, 0, tzinfo=UTC)
    with db.atomic():  # one commit for all of them
        for n in range(1205):
            checkins.log_checkin(db, decision, party_size=1, staff_user="desk1",
                                 source="desk", now=start + timedelta(seconds=n))
    every_id = list(range(1205, 0, -1))

    def pages(query):
        seen, cursor = [], None
        while True:
            url = f"/api/v1/checkins?{query}" + (f"&cursor={cursor}" if cursor else "")
            page = assert_matches(kiosk_client.get(url, headers=bearer), "/checkins")
            seen.append([r["id"] for r in page["checkins"]])
            cursor = page["next_cursor"]
            if cursor is None:
                return seen

    assert [len(p) for p in pages("limit=1000")] == [1000, 205]
    by_500 = pages("limit=500")
    assert [len(p) for p in by_500] == [500, 500, 205]
    assert [i for p in by_500 for i in p] == every_id  # each once, in id order
    # exactly a page's worth: the last page says so (no empty page after it)
    assert [len(p) for p in pages("limit=1000&from=2026-06-15T16:03:25%2B00:00")] == [1000]
    assert [len(p) for p in pages(f"limit=1000&home={OMSI}")] == [1000, 205]
    for bad in ("abc", "0", "-5", "1.5"):
        assert_error(kiosk_client.get(f"/api/v1/checkins?cursor={bad}", headers=bearer),
                     400, "invalid_input")


def test_json_nested_deeper_than_the_parser_is_a_400(kiosk_client, bearer):
    deep = "[" * 100_000 + "]" * 100_000
    response = kiosk_client.post("/api/v1/check", data=deep, headers={
        **bearer, "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json["error"]["code"] == "bad_request"
