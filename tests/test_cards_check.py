"""Cards inside the one orchestration (`passport.admission.check`): the card's issuer is home."""

from __future__ import annotations

from datetime import date

import pytest

from passport import cards, keys, qr, trust

HOME = "exploratorium-san-francisco"
FAR = "museum-of-science-boston-boston"
VISIT_DAY = date(2026, 7, 4)


@pytest.fixture
def listed(db):
    from passport import institutions

    institutions.ensure_default_list(db)
    keys.create_key(db, HOME)
    return db


def _payload(db, **extra):
    fields = {"expires": date(2027, 6, 30), "postal_code": "94111", "country": "US"}
    fields.update(extra)
    return cards.issue(db, HOME, "M-1042", ["Ada Lovelace"], **fields)


def test_valid_card_far_away_is_admitted_with_the_issuer_as_home(listed):
    from passport import admission

    decision = admission.check(listed, FAR, card=_payload(listed) + "\r\n", on=VISIT_DAY)
    assert decision.admit, decision.reasons
    assert decision.home == HOME and decision.home_distance_miles > 2500


def test_card_image_and_card_reasons_reach_the_decision(listed):
    from passport import admission

    png = qr.qr_png(_payload(listed))
    assert admission.check(listed, FAR, card_image=png, on=VISIT_DAY).admit
    expired = admission.check(listed, FAR, card=_payload(listed), on=date(2027, 7, 1))
    assert not expired.admit and cards.CARD_EXPIRED in expired.reasons
    payload = _payload(listed)
    tampered = payload[:-10] + ("A" if payload[-10] != "A" else "B") + payload[-9:]
    denied = admission.check(listed, FAR, card=tampered, on=VISIT_DAY)
    assert not denied.admit and cards.CARD_SIGNATURE_INVALID in denied.reasons
    junk = admission.check(listed, FAR, card="not a card", on=VISIT_DAY)
    assert not junk.admit and cards.CARD_MALFORMED in junk.reasons


def test_a_revocation_from_another_connection_denies_the_next_check(listed, db_path):
    from passport import admission, store

    payload = _payload(listed)
    assert admission.check(listed, FAR, card=payload, on=VISIT_DAY).admit
    other = store.connect_migrated(db_path)
    try:
        trust.revoke_card(other, HOME, "M-1042")
    finally:
        other.close()
    denied = admission.check(listed, FAR, card=payload, on=VISIT_DAY)
    assert not denied.admit and denied.reasons == [cards.CARD_REVOKED]
