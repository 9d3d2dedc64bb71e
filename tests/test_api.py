"""The JSON API: every route, Bearer and session auth, idempotency, one error shape, and
every real response validated against kiosk/openapi.yaml."""

from datetime import UTC, date, datetime
from pathlib import Path

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
    {"visit": EXPLORATORIUM, "home": OMSI, "postal": "00000", "country": "US"},
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
