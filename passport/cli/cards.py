"""CLI commands: member cards (issue, verify, revoke), issuer keys and the trust list."""

from __future__ import annotations

import json
import sys
from contextlib import closing
from datetime import date
from pathlib import Path

import click

from passport import admission, audit, cards, institutions, issuance, keys, qr, trust
from passport.cli import main
from passport.cli.common import emit, fail, json_option, open_store
from passport.rules import REASON_TEXT, benefit_sentence, site_local_today

_OUT_SUFFIXES = (".png", ".svg", ".html")


def _parse_date(text: str, what: str) -> date:
    # The same strict YYYY-MM-DD as `passport check` (fromisoformat alone takes 20270630).
    try:
        day = admission.parse_date(text, what)
    except admission.CheckInputError:
        day = None
    if day is None:
        fail(f"{what} is not a date (YYYY-MM-DD): {text!r}")
    return day


def _active_list(db):
    """The active participant list, or None when none is published yet."""
    try:
        return institutions.load_active(db)
    except institutions.NoActiveList:
        return None


def _require_listed(db, institution: str):
    """Refuse an issuer that is not on the active list (when a list is active)."""
    active = _active_list(db)
    if active is not None and institution not in active.by_id:
        fail(f"{institution} is not on the active participant list (version {active.version})")
    return active


def _audit_issue(db, payload: str) -> None:
    """Record a card issued here: the member id, key and expiry (never the names)."""
    card = cards.decode(payload)
    audit.record(db, audit.cli_actor(), "card.issued", f"{card.issuer_id}/{card.member_id}",
                 {"institution_id": card.issuer_id, "member_id": card.member_id,
                  "key_id": card.key_id, "expires": card.expires.isoformat(),
                  "party_size": card.party_size, "programs": list(card.programs)})


def _reason_text(code: str) -> str:
    return f"{code} ({REASON_TEXT[code]})" if code in REASON_TEXT else code


# ----------------------------------------------------------------------------- card

@main.group()
def card() -> None:
    """Issue and verify signed member cards (QR codes)."""


@card.command("issue")
@click.option("--institution", required=True, help="Issuing (home) institution id.")
@click.option("--member", "member_id", required=True, help="The member id at that institution.")
@click.option("--names", "--name", "names", multiple=True, required=True,
              help="A person the card covers; repeat for each (up to 8).")
@click.option("--expires", required=True, help="Last valid day, YYYY-MM-DD.")
@click.option("--party-size", type=int, default=None,
              help="People covered (1 = individual membership).")
@click.option("--group", is_flag=True,
              help="Group membership: as many people as the program's group rule covers "
              "(ASTC: 2 adults + 4 children).")
@click.option("--postal", help="Residence postal code (with --country).")
@click.option("--country", help="Residence country, ISO two letters (with --postal).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the card: .png or .svg (QR code) or .html (printable card).")
@click.option("--allow-expired", is_flag=True,
              help="Sign the card even though --expires is already past.")
@click.option("--programs", default="astc", show_default=True, metavar="ID,ID",
              help="The programs the membership qualifies for (the issuing site vouches); "
              "ASTC alone writes a version 1 card, any other set version 2.")
@json_option
def card_issue(institution, member_id, names, expires, party_size, group, postal, country,
               out, allow_expired, programs, as_json):
    """Sign a member card with the institution's current key; print its payload.

    \b
    Example:
      passport card issue --institution exploratorium-san-francisco --member M-1042 \\
        --names "Ada Lovelace" --names "Charles Babbage" --group --expires 2027-06-30 \\
        --postal 94111 --country US --out card.html

    With --json prints {"payload": ..., "file": ...}. Nothing is written on an error. A
    card whose --expires is before today (the institution's local date) is refused unless
    --allow-expired: every desk would deny it.
    """
    expires_day = _parse_date(expires, "--expires")
    if group and party_size is not None:
        fail("give --party-size or --group, not both")
    if (postal is None) != (country is None):
        fail("give --postal and --country together")
    if out is not None and out.suffix.lower() not in _OUT_SUFFIXES:
        fail(f"--out must end in .png, .svg or .html: {out}")
    with closing(open_store()) as db:
        active = _require_listed(db, institution)
        today = site_local_today(active.timezone_of(institution) if active is not None else None)
        if expires_day < today and not allow_expired:
            fail(f"--expires {expires_day} is before today ({today}): the card would be "
                 "expired already (--allow-expired signs it anyway)")
        profile = institutions.get_profile(db)
        size = profile.group_party_size if group else (1 if party_size is None else party_size)
        try:
            payload = cards.issue(db, institution, member_id, list(names), expires_day,
                                  party_size=size, postal_code=postal, country=country,
                                  programs=programs)
        except (cards.CardIssueError, keys.KeyStoreError) as exc:
            fail(str(exc))
        _audit_issue(db, payload)
        issuance.record_issue(db, audit.cli_actor(), payload)  # for renewals by roster
    if out is not None:
        suffix = out.suffix.lower()
        try:
            if suffix == ".png":
                out.write_bytes(qr.qr_png(payload))
            elif suffix == ".svg":
                out.write_text(qr.qr_svg(payload), encoding="utf-8")
            else:
                home = active.by_id[institution].get("name") if active is not None else None
                page = qr.card_html(payload, cards.decode(payload), benefit_sentence(profile), home)
                out.write_text(page, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or exc}")
    emit({"payload": payload, "file": str(out) if out is not None else None}, as_json,
         lambda r: r["payload"] + (f"\nwritten to {r['file']}" if r["file"] else ""))


def _describe(check: cards.CardCheck) -> str:
    lines = ["VALID" if check.valid else "NOT VALID: " + ", ".join(
        _reason_text(code) for code in check.reasons)]
    if check.detail:
        lines.append(f"  {check.detail}")
    if check.card is not None:
        c = check.card
        lines += [
            f"  names:       {', '.join(c.names)}",
            f"  member:      {c.member_id} of {c.issuer_id}",
            f"  membership:  {c.membership}, up to {c.party_size} "
            f"{'person' if c.party_size == 1 else 'people'}",
            f"  expires:     {c.expires.isoformat()} (valid through that day)",
            f"  residence:   {c.postal_code} {c.country}" if c.postal_code else
            "  residence:   not on the card",
            f"  programs:    {', '.join(c.programs)} (card format version {c.version})",
            f"  key:         {c.key_id}",
        ]
    return "\n".join(lines)


@card.command("verify")
@click.argument("payload", required=False)
@click.option("--image", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the payload from the QR code in this image (PNG, JPEG).")
@click.option("--on", "on", help="Visit date, YYYY-MM-DD (default: today).")
@json_option
def card_verify(payload, image, on, as_json):
    """Verify a card payload (or the QR code in an image) against the trust list.

    \b
    Examples:
      passport card verify PYZ1AGQQ...      (PAYLOAD "-" reads it from stdin)
      passport card verify --image card.png --on 2026-07-04 --json

    Prints the card and VALID, or the reason codes. With --json prints
    {"valid": bool, "reasons": [...], "card": {...} or null}. Exits 1 when the card is
    not valid.
    """
    if (payload is None) == (image is None):
        fail("give a PAYLOAD or --image, not both or neither")
    visit = _parse_date(on, "--on") if on is not None else date.today()
    if payload == "-":
        payload = sys.stdin.read()
    if image is not None:
        try:
            payload = cards.decode_image(image)
        except cards.CardImageError as exc:
            fail(str(exc))
    with closing(open_store()) as db:
        check = cards.verify(db, payload, visit)
    emit(check.to_json(), as_json, lambda _: _describe(check))
    if not check.valid:
        sys.exit(1)


# ----------------------------------------------------------------------------- cards

@main.group("cards")
def cards_group() -> None:
    """Issue the cards of a whole membership; revoke a member's cards."""


@cards_group.command("revoke")
@click.option("--institution", required=True, help="Issuing institution id.")
@click.option("--member", "member_id", required=True, help="The member id to revoke.")
@click.option("--reason", help="Why (kept in the store and the trust list).")
@json_option
def cards_revoke(institution, member_id, reason, as_json):
    """Revoke every card of one member of one institution (reason CARD_REVOKED).

    \b
    Example:
      passport cards revoke --institution exploratorium-san-francisco --member M-1042
    """
    with closing(open_store()) as db:
        try:
            added = trust.revoke_card(db, institution, member_id, reason,
                                      actor=audit.cli_actor())
        except ValueError as exc:
            fail(str(exc))
        if added:
            issuance.record_revocation(db, audit.cli_actor(), institution, member_id)
    emit({"institution_id": institution, "member_id": member_id, "newly_revoked": added},
         as_json, lambda r: f"revoked cards of {member_id} at {institution}"
         + ("" if added else " (already revoked)"))


# ----------------------------------------------------------------------------- keys

@main.group("keys")
def keys_group() -> None:
    """Manage issuer signing keys (Ed25519)."""


def _key_line(key: dict) -> str:
    return (f"{key['key_id']}  {key['institution_id']}  {key['status']}"
            f"{'  signing' if key.get('signing') else ''}  created {key['created_at']}")


def _key_command(action, *args, issuer: str | None = None) -> dict:
    with closing(open_store()) as db:
        if issuer is not None:
            _require_listed(db, issuer)
        try:
            return action(db, *args, actor=audit.cli_actor())
        except (keys.KeyStoreError, ValueError) as exc:
            fail(str(exc))


@keys_group.command("create")
@click.option("--institution", required=True, help="Institution id the key signs for.")
@json_option
def keys_create(institution, as_json):
    """Create an institution's first signing key (private key encrypted in the store).

    \b
    Example:
      passport keys create --institution exploratorium-san-francisco
    """
    emit(_key_command(keys.create_key, institution, issuer=institution), as_json,
         _key_line)


@keys_group.command("rotate")
@click.option("--institution", required=True, help="Institution id.")
@json_option
def keys_rotate(institution, as_json):
    """Add a new signing key; cards signed by older keys stay valid until retired.

    \b
    Example:
      passport keys rotate --institution exploratorium-san-francisco
    """
    emit(_key_command(keys.rotate_key, institution, issuer=institution), as_json,
         _key_line)


@keys_group.command("retire")
@click.argument("key_id")
@json_option
def keys_retire(key_id, as_json):
    """Retire a key: its cards stop verifying (KEY_UNKNOWN); rotate first.

    \b
    Example:
      passport keys retire a107dfbced90
    """
    emit(_key_command(keys.retire_key, key_id), as_json, _key_line)


@keys_group.command("revoke")
@click.argument("key_id")
@json_option
def keys_revoke(key_id, as_json):
    """Revoke a compromised key: every card it signed gets CARD_REVOKED.

    \b
    Example:
      passport keys revoke a107dfbced90
    """
    emit(_key_command(keys.revoke_key, key_id), as_json, _key_line)


@keys_group.command("list")
@click.option("--institution", help="Only this institution's keys.")
@json_option
def keys_list(institution, as_json):
    """List keys, oldest first, with their status.

    \b
    Example:
      passport keys list --json
    """
    with closing(open_store(must_exist=True)) as db:
        found = keys.list_keys(db, institution)
    emit({"keys": found}, as_json,
         lambda r: "\n".join(_key_line(k) for k in r["keys"]) or "no keys")


# ----------------------------------------------------------------------------- trust

@main.group("trust")
def trust_group() -> None:
    """Export and import the trust list (public keys and card revocations)."""


@trust_group.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@json_option
def trust_export(file, as_json):
    """Write the trust list as JSON to FILE (default: standard output).

    \b
    Example:
      passport trust export trust.json
    """
    with closing(open_store(must_exist=True)) as db:
        data = trust.export_trust(db)
    text = json.dumps(data, indent=2) + "\n"
    if file is None:
        click.echo(text, nl=False)
        return
    try:
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {file}: {exc.strerror or exc}")
    emit({"file": str(file), "keys": len(data["keys"]),
          "revoked_cards": len(data["revoked_cards"])}, as_json,
         lambda r: f"wrote {r['keys']} keys and {r['revoked_cards']} revoked cards to {file}")


@trust_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def trust_import(file, as_json):
    """Merge a trust list JSON file into the store: all of it, or nothing if any entry is bad.

    \b
    Example:
      passport trust import trust.json
    """
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"{file} is not JSON: {exc}")
    with closing(open_store()) as db:
        try:
            result = trust.import_trust(db, data, actor=audit.cli_actor())
        except trust.TrustListError as exc:
            fail(str(exc))
    emit(result, as_json, lambda r: f"imported {r['keys']} keys ({r['keys_added']} new) and "
         f"{r['revoked_cards']} revoked cards ({r['revoked_cards_added']} new)")
