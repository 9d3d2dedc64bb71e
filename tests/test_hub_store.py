"""The hub's domain on a real PostgreSQL database (tests/hubdb.py): migrations, lists,
signed bundles, hub key rotation, trust uploads, idempotent ingest, reports."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hubdata import OTHER, SITE, checkin, issuer_key, revocation

from passport import bundle, hubstore, store
from passport.hub import bundles, ingest, lists, reports, setup, signing, sites
from passport.importer import ListValidationError


def _pinned(pool) -> dict[str, bytes]:
    return {k["key_id"]: base64.b64decode(k["public_key"]) for k in signing.current_keys(pool)}


def test_init_twice_applies_each_migration_once(hub_pool):
    again = setup.init(hub_pool)
    assert again["migrations_applied"] == [] and again["profiles_added"] == 0
    assert again["hub_key_created"] is False
    assert hubstore.schema_version(hub_pool) == len(hubstore.MIGRATIONS)
    names = [p["name"] for p in lists.programs(hub_pool)]
    assert names[0] == "astc" and {"narm", "aza"} <= set(names)


def test_institution_columns_and_types_match_the_site_store(hub_pool, db):
    sqlite_types = {row[1]: row[2] for row in
                    db.execute("PRAGMA table_info(institutions)").fetchall()}
    assert tuple(hubstore.INSTITUTION_TYPES) == store.INSTITUTION_COLUMNS
    words = {"REAL": "DOUBLE PRECISION", "INTEGER": "INTEGER", "TEXT": "TEXT"}
    for name, kind in hubstore.INSTITUTION_TYPES.items():
        assert kind.startswith(words[sqlite_types[name]]), name


def test_import_publish_diff_and_rollback(hub_pool, shipped_csv, tmp_path):
    first = lists.import_file(hub_pool, shipped_csv, actor="t")
    assert first["version"] == 1 and first["row_count"] == 368
    smaller = tmp_path / "smaller.csv"
    lines = shipped_csv.read_text(encoding="utf-8").splitlines(keepends=True)
    smaller.write_text("".join(lines[:-2]), encoding="utf-8")
    dry = lists.import_file(hub_pool, smaller, dry_run=True)
    assert dry["version"] is None and dry["diff"]["summary"]["removed"] == 2
    second = lists.import_file(hub_pool, smaller)
    assert (second["version"], second["previous_version"]) == (2, 1)
    assert lists.diff(hub_pool, 1, 2)["summary"]["removed"] == 2
    assert lists.rollback(hub_pool, 1) == {"program": "astc", "active": 1, "previous": 2}
    assert [v["active"] for v in lists.versions(hub_pool)] == [False, True]
    with pytest.raises(lists.UnknownVersion):
        lists.rollback(hub_pool, 99)
    with pytest.raises(lists.UnknownProgram):
        lists.import_file(hub_pool, shipped_csv, program="nope")


def test_a_bad_list_is_refused_whole_with_the_importers_errors(hub_pool, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,country,latitude,longitude\nx-1,X,US,95,10\n", encoding="utf-8")
    with pytest.raises(ListValidationError, match="latitude"):
        lists.import_file(hub_pool, bad)
    assert lists.versions(hub_pool) == []


def test_the_bundle_verifies_and_carries_list_profiles_and_trust(hub_pool, shipped_csv):
    lists.import_file(hub_pool, shipped_csv)
    signed = bundles.current(hub_pool)
    assert bundles.current(hub_pool) is signed  # served from memory while unchanged
    verified = bundle.verify(signed.body, _pinned(hub_pool), datetime.now(UTC))
    assert verified.sequence == signed.sequence and verified.etag == signed.etag
    content = verified.content
    assert content["lists"]["astc"]["version"] == 1
    rows = content["lists"]["astc"]["institutions"]
    assert len(rows) == 368 and set(rows[0]) == set(store.INSTITUTION_COLUMNS)
    assert all("active_list_version" not in p for p in content["profiles"])
    assert content["trust"]["format"] == "passport-trust-list"
    tampered = signed.body.replace(b'"Anchorage Museum"', b'"Anchorage Museun"')
    with pytest.raises(bundle.BundleError) as refused:
        bundle.verify(tampered, _pinned(hub_pool), datetime.now(UTC))
    assert refused.value.code == "BUNDLE_SIGNATURE_INVALID"


def test_a_change_moves_the_sequence_and_an_old_bundle_is_issued_again(hub_pool, shipped_csv):
    first = bundles.current(hub_pool)
    lists.import_file(hub_pool, shipped_csv)
    second = bundles.current(hub_pool)
    assert second.sequence > first.sequence and second.etag != first.etag
    later = datetime.now(UTC) + timedelta(days=2)
    third = bundles.current(hub_pool, later)
    assert third.sequence == second.sequence + 1
    assert bundle.verify(third.body, _pinned(hub_pool), later).valid_until > later


def test_rotation_keeps_the_old_key_signing_through_the_grace_period(hub_pool):
    old = signing.current_keys(hub_pool)[0]
    rotated = signing.rotate(hub_pool, timedelta(days=7))
    now = datetime.now(UTC)
    signed = bundles.current(hub_pool, now)
    during = bundle.verify(signed.body, {old["key_id"]: base64.b64decode(old["public_key"])},
                           now)
    assert [k["key_id"] for k in during.content["hub_keys"]] == [
        old["key_id"], rotated["new_key"]["key_id"]]
    after = now + timedelta(days=8)
    new_only = {rotated["new_key"]["key_id"]: base64.b64decode(
        rotated["new_key"]["public_key"])}
    signed_after = bundles.current(hub_pool, after, refresh_after=timedelta(days=1))
    assert bundle.verify(signed_after.body, new_only, after).key_id == \
        rotated["new_key"]["key_id"]


def test_enrolment_token_works_once(hub_pool):
    added = sites.add_site(hub_pool, SITE)
    enrolled = sites.enrol(hub_pool, SITE, added["token"])
    assert sites.site_for(hub_pool, enrolled["credential"]) == SITE
    with pytest.raises(sites.EnrolmentRefused):
        sites.enrol(hub_pool, SITE, added["token"])
    with pytest.raises(sites.EnrolmentRefused):
        sites.enrol(hub_pool, OTHER, added["token"])
    assert sites.site_for(hub_pool, "hubsite_wrong") is None


def test_ingest_is_idempotent_and_refuses_a_bad_batch_whole(hub_pool):
    batch = {"checkins": [checkin(n) for n in range(1, 101)]}
    assert ingest.ingest(hub_pool, SITE, batch) == {"accepted": 100, "duplicates": 0}
    assert ingest.ingest(hub_pool, SITE, batch) == {"accepted": 0, "duplicates": 100}
    assert hubstore.count_checkins(hub_pool) == 100
    with_name = {"checkins": [checkin(200), {**checkin(201), "names": "Ada Lovelace"}]}
    with pytest.raises(ingest.BatchError, match=r"checkins\[1\].*unknown fields \['names'\]"):
        ingest.ingest(hub_pool, SITE, with_name)
    with pytest.raises(ingest.BatchError, match="must be 'exploratorium"):
        ingest.ingest(hub_pool, SITE, {"checkins": [checkin(1, site=OTHER)]})
    with pytest.raises(ingest.BatchError, match="local_hour"):
        ingest.ingest(hub_pool, SITE, {"checkins": [checkin(300, local_hour=24)]})
    assert hubstore.count_checkins(hub_pool) == 100  # nothing of the refused batches


def test_trust_upload_only_for_the_sites_own_institution(hub_pool):
    own, foreign = issuer_key(SITE), issuer_key(OTHER)
    with pytest.raises(sites.TrustNotOwn, match=OTHER):
        sites.accept_trust(hub_pool, SITE, {"keys": [own, foreign], "revocations": []})
    with pytest.raises(sites.TrustNotOwn):
        sites.accept_trust(hub_pool, SITE, {"keys": [], "revocations": [revocation(OTHER)]})
    result = sites.accept_trust(hub_pool, SITE, {"keys": [own],
                                                 "revocations": [revocation(SITE)]})
    assert result == {"keys_accepted": 1, "revocations_accepted": 1}
    again = sites.accept_trust(hub_pool, SITE, {"keys": [own], "revocations": []})
    assert again == {"keys_accepted": 0, "revocations_accepted": 0}
    revoked = {**own, "revoked_at": "2026-06-03T00:00:00+00:00"}
    assert sites.accept_trust(hub_pool, SITE, {"keys": [revoked]})["keys_accepted"] == 1
    with pytest.raises(sites.TrustInvalid, match="public_key"):
        sites.accept_trust(hub_pool, SITE, {"keys": [{**own, "public_key": "!!"}]})
    trust = bundle.verify(bundles.current(hub_pool).body, _pinned(hub_pool),
                          datetime.now(UTC)).content["trust"]
    assert [(k["key_id"], k["revoked_at"]) for k in trust["keys"]] == [
        (own["key_id"], "2026-06-03T00:00:00+00:00")]
    assert [c["member_id"] for c in trust["revoked_cards"]] == ["M-1"]


def test_the_store_merge_never_changes_another_institutions_key(hub_pool):
    """accept_trust checks a known key in one transaction and merges in the next: the merge
    itself must not retire or revoke a key stored for another institution or public key."""
    own = issuer_key(SITE)
    fields = {f: own[f] for f in sites.KEY_FIELDS}
    assert hubstore.merge_trust(hub_pool, SITE, [fields], []) == (1, 0)
    stamp = "2026-06-05T00:00:00+00:00"
    forged = [{**fields, "institution_id": OTHER, "revoked_at": stamp},
              {**fields, "public_key": issuer_key(SITE)["public_key"], "retired_at": stamp}]
    for key in forged:
        assert hubstore.merge_trust(hub_pool, OTHER, [key], []) == (0, 0)
    row = hubstore.issuer_key_rows(hub_pool, [own["key_id"]])[own["key_id"]]
    assert (row["institution_id"], row["retired_at"], row["revoked_at"]) == (SITE, None, None)


def test_reports_have_the_site_reports_shape_and_leave_undone_visits_out(hub_pool):
    rows = [checkin(1), checkin(2, admit=False), checkin(3, day="2026-08-01", party=2),
            checkin(4, home=SITE, site=SITE, party=1),
            checkin(5, kind="undo", undoes=f"{SITE}:3")]
    ingest.ingest(hub_pool, SITE, {"checkins": rows})
    other = [checkin(1, site=OTHER, home=SITE, party=4)]
    ingest.ingest(hub_pool, OTHER, {"checkins": other})
    month = reports.visits(hub_pool, by="month")
    assert set(month) == {"by", "from", "to", "time_zone", "rows"}
    assert [r["key"] for r in month["rows"]] == ["2026-06"]  # the August visit was undone
    assert month["rows"][0] == {"key": "2026-06", "admitted": 3, "people_free": 8,
                                "people_paying": 0, "denied": 1}
    balance = {r["key"]: r for r in reports.visits(hub_pool, by="balance")["rows"]}
    assert (balance[SITE]["received"], balance[SITE]["sent"]) == (1, 1)
    assert balance[OTHER]["balance"] == 0
    reasons = {r["key"]: r for r in reports.visits(hub_pool, by="reason")["rows"]}
    assert reasons["HOME_WITHIN_RADIUS"]["denied"] == 1
    cross = reports.visits(hub_pool, by="home,visit,month", from_="2026-06-01",
                           to="2026-06-30")
    first = cross["rows"][0]
    assert (first["home"], first["visit"], first["month"]) == (OTHER, SITE, "2026-06")
    assert reports.to_csv(cross).splitlines()[0] == \
        "home,visit,month,admitted,people_free,people_paying,denied"
    with pytest.raises(reports.HubReportError, match="'by'"):
        reports.visits(hub_pool, by="weekday")


def test_without_the_url_the_store_says_what_to_set(monkeypatch):
    monkeypatch.delenv(hubstore.URL_ENV_VAR, raising=False)
    with pytest.raises(hubstore.HubStoreError, match="PASSPORT_HUB_DATABASE_URL"):
        hubstore.open_pool()


def test_the_hub_tables_hold_no_names(hub_url):
    with psycopg.connect(hub_url) as conn:
        columns = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'checkins'")}
    assert columns and not columns & {"names", "member_id", "name"}
