"""Member card payloads: issue, verify, every single-byte mutation, fuzzing, scanner quirks."""

from __future__ import annotations

import base64
import io
from datetime import date, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from passport import cards, keys, qr
from passport.trust import TrustedKey, revoke_card

HOME = "exploratorium-san-francisco"
OTHER = "museum-of-science-boston-boston"
EXPIRES = date(2027, 6, 30)
REASONS = {cards.CARD_MALFORMED, cards.CARD_SIGNATURE_INVALID, cards.KEY_UNKNOWN,
           cards.CARD_REVOKED, cards.CARD_EXPIRED}


@pytest.fixture
def home_key(db):
    return keys.create_key(db, HOME)


@pytest.fixture
def payload(db, home_key):
    return cards.issue(db, HOME, "M-2026-00417", ["Ada Lovelace", "Charles Babbage"], EXPIRES,
                       party_size=6, postal_code="94111", country="US")


@pytest.fixture(scope="module")
def offline():
    """A signed card and its trust, without a store (fast enough for mutation sweeps)."""
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = keys.key_id_for(raw)
    card = cards.Card(1, HOME, key_id, "M-2026-00417", ("Ada Lovelace", "Charles Babbage"),
                      6, EXPIRES, "94111", "US")
    trust = {key_id: TrustedKey(key_id, HOME, public, keys.ACTIVE)}
    return cards.sign(card, private), trust, card


# ----------------------------------------------------------------------------- round trips

def test_issue_then_verify_gives_back_every_field(db, payload, home_key):
    check = cards.verify(db, payload, date(2026, 7, 4))
    assert check.valid and check.reasons == []
    card = check.card
    assert card.issuer_id == HOME and card.key_id == home_key["key_id"]
    assert card.member_id == "M-2026-00417"
    assert card.names == ("Ada Lovelace", "Charles Babbage")
    assert card.party_size == 6 and card.membership == "group"
    assert card.expires == EXPIRES
    assert (card.postal_code, card.country) == ("94111", "US")
    assert check.to_json() == {"valid": True, "reasons": [], "card": card.to_json()}
    assert card.to_json()["expires"] == "2027-06-30"


def test_payload_is_prefix_plus_qr_alphanumeric_base32(payload):
    assert payload.startswith("PYZ1")
    assert set(payload[4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert len(payload) == 235  # 27-character issuer id, two names, postal code


def test_round_trip_through_png_and_zxing(db, payload):
    png = qr.qr_png(payload)
    assert cards.decode_image(png) == payload
    check = cards.verify(db, cards.decode_image(png), date(2026, 7, 4))
    assert check.valid


def test_round_trip_from_a_rotated_scaled_photo_like_image(db, payload, tmp_path):
    image = Image.open(io.BytesIO(qr.qr_png(payload))).convert("L")
    image = image.rotate(90, expand=True).resize((image.width * 2 // 3,) * 2)
    canvas = Image.new("L", (image.width + 200, image.height + 120), 235)
    canvas.paste(image, (150, 40))
    path = tmp_path / "photo.jpg"
    canvas.save(path, quality=70)
    assert cards.verify(db, cards.decode_image(path), date(2026, 7, 4)).valid


def test_individual_card_without_residence(db, home_key):
    payload = cards.issue(db, HOME, "17", "Grace Hopper", EXPIRES)
    card = cards.verify(db, payload, EXPIRES).card
    assert card.membership == "individual" and card.party_size == 1
    assert card.names == ("Grace Hopper",) and card.postal_code is None


def test_unicode_names_and_non_slug_issuer_id(db):
    keys.create_key(db, "Site_42.main")
    payload = cards.issue(db, "Site_42.main", "Ø-1", ["Zoë Ångström", "李小龍"], EXPIRES,
                          postal_code="h3a 0g4", country="ca")
    check = cards.verify(db, payload, EXPIRES)
    assert check.valid, check
    assert check.card.issuer_id == "Site_42.main"
    assert check.card.names == ("Zoë Ångström", "李小龍")
    assert (check.card.postal_code, check.card.country) == ("H3A 0G4", "CA")


@settings(max_examples=60, deadline=None)
@given(
    issuer=st.from_regex(r"[a-z0-9][a-z0-9-]{0,80}", fullmatch=True),
    member=st.text(st.characters(categories=["L", "N", "P"]), min_size=1, max_size=20),
    names=st.lists(st.text(st.characters(categories=["L"]), min_size=1, max_size=16),
                   min_size=1, max_size=8),
    days=st.integers(0, 0xFFFF),
    party=st.integers(1, cards.MAX_PARTY_SIZE),
    residence=st.none() | st.tuples(st.from_regex(r"[A-Z0-9]{1,10}", fullmatch=True),
                                    st.from_regex(r"[A-Z]{2}", fullmatch=True)),
)
def test_any_valid_card_survives_sign_and_verify(offline, issuer, member, names, days, party,
                                                 residence):
    _, trust, _ = offline
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    key_id = keys.key_id_for(raw)
    postal, country = residence if residence else (None, None)
    card = cards.Card(1, issuer, key_id, member, tuple(names), party,
                      cards.EPOCH + timedelta(days=days), postal, country)
    payload = cards.sign(card, private)
    check = cards.verify_with_trust(
        payload, {key_id: TrustedKey(key_id, issuer, private.public_key(), keys.ACTIVE)},
        card.expires)
    assert check.valid and check.card == card


# ----------------------------------------------------------------------------- reasons

def test_valid_through_the_expiry_date_inclusive(db, payload):
    assert cards.verify(db, payload, EXPIRES).valid
    late = cards.verify(db, payload, EXPIRES + timedelta(days=1))
    assert not late.valid and late.reasons == [cards.CARD_EXPIRED]
    assert late.card is not None  # staff still see what the card says


def test_unknown_key(payload, tmp_path):
    from passport import store
    other = store.open_db(tmp_path / "kiosk.sqlite")
    check = cards.verify(other, payload, EXPIRES)
    assert check.reasons == [cards.KEY_UNKNOWN]
    other.close()


def test_key_of_another_institution_is_unknown_for_this_issuer(offline):
    payload, trust, card = offline
    (key,) = trust.values()
    wrong = {key.key_id: TrustedKey(key.key_id, OTHER, key.public_key, keys.ACTIVE)}
    assert cards.verify_with_trust(payload, wrong, EXPIRES).reasons == [cards.KEY_UNKNOWN]


def test_revoked_card_and_all_reasons_that_apply(db, payload):
    assert revoke_card(db, HOME, "M-2026-00417", "lost") is True
    assert revoke_card(db, HOME, "M-2026-00417") is False
    check = cards.verify(db, payload, EXPIRES + timedelta(days=1))
    assert check.reasons == [cards.CARD_REVOKED, cards.CARD_EXPIRED]
    with pytest.raises(cards.CardIssueError, match="revoked"):
        cards.issue(db, HOME, "M-2026-00417", ["Ada Lovelace"], EXPIRES)


def test_revoked_key(db, payload, home_key):
    keys.revoke_key(db, home_key["key_id"])
    assert cards.verify(db, payload, EXPIRES).reasons == [cards.CARD_REVOKED]
    with pytest.raises(keys.KeyStoreError, match="no signing key"):
        cards.issue(db, HOME, "M-9", ["X"], EXPIRES)


def test_rotated_key_old_cards_valid_until_retired(db, payload, home_key):
    new = keys.rotate_key(db, HOME)
    assert new["key_id"] != home_key["key_id"]
    fresh = cards.issue(db, HOME, "M-2", ["Mary Somerville"], EXPIRES)
    assert cards.verify(db, fresh, EXPIRES).card.key_id == new["key_id"]
    assert cards.verify(db, payload, EXPIRES).valid
    keys.retire_key(db, home_key["key_id"])
    assert cards.verify(db, payload, EXPIRES).reasons == [cards.KEY_UNKNOWN]
    assert cards.verify(db, fresh, EXPIRES).valid


def test_signature_by_another_key_with_the_same_key_id(offline):
    payload, trust, card = offline
    forged = cards.sign(card, Ed25519PrivateKey.generate())
    assert cards.verify_with_trust(forged, trust, EXPIRES).reasons == [
        cards.CARD_SIGNATURE_INVALID]
    assert cards.verify_with_trust(payload, trust, EXPIRES).valid


# ----------------------------------------------------------------------------- mutations

def test_every_single_character_mutation_of_the_payload_is_rejected(offline):
    payload, trust, _ = offline
    assert cards.verify_with_trust(payload, trust, EXPIRES).valid
    for position in range(len(payload)):
        for code in range(256):
            if chr(code) == payload[position]:
                continue
            mutated = payload[:position] + chr(code) + payload[position + 1:]
            check = cards.verify_with_trust(mutated, trust, EXPIRES)
            assert not check.valid, (position, code)


def _raw(payload: str) -> bytes:
    text = payload[4:]
    return base64.b32decode(text + "=" * (-len(text) % 8))


def _payload(raw: bytes) -> str:
    return "PYZ1" + base64.b32encode(raw).decode().rstrip("=")


def test_every_single_byte_mutation_of_body_and_signature_is_rejected(offline):
    payload, trust, _ = offline
    raw = _raw(payload)
    assert _payload(raw) == payload
    signature_start = len(raw) - 64
    for index in range(len(raw)):
        # every value for signature bytes; for the body every bit flip and a few values
        values = (range(256) if index >= signature_start
                  else {raw[index] ^ (1 << bit) for bit in range(8)} | {0, 0xFF, 0x7F})
        for value in values:
            if value == raw[index]:
                continue
            mutated = raw[:index] + bytes([value]) + raw[index + 1:]
            check = cards.verify_with_trust(_payload(mutated), trust, EXPIRES)
            assert not check.valid, (index, value)
            assert set(check.reasons) <= REASONS


def test_non_canonical_base32_spelling_is_rejected(offline):
    payload, trust, _ = offline
    # the last character carries spare bits; a different letter with the same data bits
    # would decode to the same bytes: it must still fail
    for other in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567":
        if other != payload[-1]:
            check = cards.verify_with_trust(payload[:-1] + other, trust, EXPIRES)
            assert not check.valid


# ----------------------------------------------------------------------------- fuzzing

def _assert_clean(check: cards.CardCheck) -> None:
    assert isinstance(check, cards.CardCheck)
    assert not check.valid
    assert check.reasons and set(check.reasons) <= REASONS
    if cards.CARD_MALFORMED in check.reasons:
        assert check.reasons == [cards.CARD_MALFORMED] and check.card is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400))
def test_fuzz_any_text_gives_reasons_not_exceptions(offline, text):
    _, trust, _ = offline
    _assert_clean(cards.verify_with_trust(text, trust, EXPIRES))


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(min_size=0, max_size=220))
def test_fuzz_any_bytes_after_the_prefix(offline, raw):
    _, trust, _ = offline
    _assert_clean(cards.verify_with_trust(_payload(raw), trust, EXPIRES))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fuzz_structured_mutations_of_a_real_card(offline, data):
    payload, trust, _ = offline
    raw = bytearray(_raw(payload))
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["set", "insert", "delete", "truncate"]))
        index = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if action == "set" and raw:
            raw[index] = data.draw(st.integers(0, 255).filter(lambda v, i=index: v != raw[i]))
        elif action == "insert":
            raw.insert(index, data.draw(st.integers(0, 255)))
        elif action == "delete" and raw:
            del raw[index]
        elif action == "truncate":
            del raw[index:]
    if bytes(raw) != _raw(payload):
        _assert_clean(cards.verify_with_trust(_payload(bytes(raw)), trust, EXPIRES))


def test_non_text_inputs_are_malformed(db, offline):
    _, trust, _ = offline
    for junk in (None, b"PYZ1AAAA", 12, ["PYZ1"], "", "PYZ2AAAA", "PYZ3AAAA",
                 "PYZ1" + "A" * 5000):
        check = cards.verify_with_trust(junk, trust, EXPIRES)
        assert check.reasons == [cards.CARD_MALFORMED]
        assert cards.verify(db, junk, EXPIRES).reasons == [cards.CARD_MALFORMED]
    assert "version" in cards.verify_with_trust("PYZ3AAAA", trust, EXPIRES).detail


# ----------------------------------------------------------------------------- scanner quirks

_US_ON_QWERTZ = str.maketrans("YZ", "ZY")
# What a US-configured scanner types on a French AZERTY host (Shift held for capitals).
_US_ON_AZERTY = str.maketrans({"A": "Q", "Q": "A", "Z": "W", "W": "Z", "M": "?",
                               "1": "&", "2": "é", "3": '"', "4": "'", "5": "(", "6": "-",
                               "7": "è", "8": "_", "9": "ç", "0": "à"})


@pytest.mark.parametrize("typed", [
    lambda p: p + "\n",
    lambda p: p + "\r\n",
    lambda p: "  " + p + " \t",
    lambda p: "\x02" + p + "\x03\r",  # STX/ETX framing
    lambda p: p[:100] + "\n" + p[100:],  # a wrapped paste
    lambda p: p.lower() + "\n",  # Caps Lock on
    lambda p: p.translate(_US_ON_QWERTZ) + "\n",  # German host layout
    lambda p: p.translate(_US_ON_AZERTY) + "\n",  # French host layout
])
def test_scanner_quirks_are_undone(offline, typed):
    payload, trust, _ = offline
    assert cards.normalize_scan(typed(payload)) == payload
    assert cards.verify_with_trust(typed(payload), trust, EXPIRES).valid


def test_layout_prefixes_need_two_changed_characters():
    assert cards.normalize_scan("PZY1ZY") == "PYZ1YZ"
    assert cards.normalize_scan("PYW&QA(") == "PYZ1AQ5"
    assert cards.normalize_scan("PZZ1ZY") == "PZZ1ZY"  # one typo: left alone
    assert cards.normalize_scan("PyZ1ab") == "PyZ1ab"  # mixed case: left alone
    assert cards.normalize_scan(" pyz1abc\r\n") == "PYZ1ABC"


# ----------------------------------------------------------------------------- issuing errors

@pytest.mark.parametrize("change, message", [
    ({"member_id": ""}, "member id"),
    ({"member_id": "x" * 65}, "member id"),
    ({"member_id": " M1"}, "spaces"),
    ({"names": []}, "names 1 to 8"),
    ({"names": ["A"] * 9}, "names 1 to 8"),
    ({"names": ["Ada\nLovelace"]}, "control"),
    ({"party_size": 0}, "party size"),
    ({"party_size": 100}, "party size"),
    ({"expires": date(1999, 12, 31)}, "expiry"),
    ({"postal_code": "94111"}, "both"),
    ({"postal_code": "94111!", "country": "US"}, "postal code"),
    ({"postal_code": "94111", "country": "USA"}, "country"),
    ({"institution_id": "bad id"}, "institution id"),
])
def test_issue_rejects_bad_fields(db, home_key, change, message):
    fields = {"institution_id": HOME, "member_id": "M-1", "names": ["Ada Lovelace"],
              "expires": EXPIRES}
    fields.update(change)
    with pytest.raises(cards.CardIssueError, match=message):
        cards.issue(db, **fields)


def test_issue_without_a_key_says_how_to_make_one(db):
    with pytest.raises(keys.KeyStoreError, match="passport keys create"):
        cards.issue(db, HOME, "M-1", ["Ada"], EXPIRES)


# ----------------------------------------------------------------------------- images

def test_decode_image_errors(tmp_path):
    with pytest.raises(cards.CardImageError, match="cannot read"):
        cards.decode_image(b"not an image")
    with pytest.raises(cards.CardImageError, match="no such image"):
        cards.decode_image(tmp_path / "missing.png")
    blank = io.BytesIO()
    Image.new("L", (200, 200), 255).save(blank, "PNG")
    with pytest.raises(cards.CardImageError, match="no QR code"):
        cards.decode_image(blank.getvalue())


def test_decode_image_prefers_the_passport_code(offline):
    payload, _, _ = offline
    other = Image.open(io.BytesIO(qr.qr_png("https://example.org/"))).convert("L")
    card = Image.open(io.BytesIO(qr.qr_png(payload))).convert("L")
    both = Image.new("L", (other.width + card.width + 40, card.height), 255)
    both.paste(other, (0, 0))
    both.paste(card, (other.width + 40, 0))
    buffer = io.BytesIO()
    both.save(buffer, "PNG")
    assert cards.decode_image(buffer.getvalue()) == payload
