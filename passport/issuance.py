"""Cards for a whole membership: a roster in, every member's signed card out.

``read_roster`` validates the upload against the home site (its local today, its country for
postal codes without one, the program's group size); ``plan_batch`` compares it with the
cards issued before (``card_issuances``: per member the key id, the expiry and a keyed hash
of what the card says, never the names) and sorts the members into new, changed (expiry,
names, party or residence), unchanged and, when their last card was signed by a key that
has since been retired or revoked, ``key ended``; members with a still-valid card who are no
longer on the roster are ``missing``. ``issue_batch`` signs the cards to issue and writes, in
an empty folder:

- ``cards.csv``: ``member_id, names`` (``; `` between people)``, expires, payload,
  card_url`` (the ``/card?c=`` link a mailing tool can send), then ``email`` when the roster
  has one and ``pkpass`` (the pass's file name) when passes are made;
- ``cards.pdf``: the print sheets (``passport.printsheet``);
- ``pkpass/``: one Apple Wallet pass per member, when a Pass Type ID signer is given.

Then, in one transaction, it records every issued card (and, with ``revoke_missing``, revokes
the cards of missing members through ``passport.trust.revoke_card``) in ``card_issuances``
and the audit log. Nothing is recorded when writing the files fails.
"""

from __future__ import annotations

import csv
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import sqlite_utils

from passport import audit, cards, institutions, keys, store, trust
from passport.importer import RowError, inert
from passport.keyvault import derived_key
from passport.pkpass import PassContent, PassSigner, build_pkpass, pass_filename
from passport.printsheet import PrintCard, write_sheets
from passport.roster import Roster, RosterError, RosterRules, parse_roster
from passport.rules import benefit_sentence, site_local_today

CSV_NAME, PDF_NAME, PKPASS_DIR = "cards.csv", "cards.pdf", "pkpass"
CSV_COLUMNS = ("member_id", "names", "expires", "payload", "card_url")
NAMES_JOINER = "; "
NEW, CHANGED, KEY_ENDED, REISSUED = "new", "changed", "key ended", "reissued"
_HASH_PURPOSE = b"passport card contents v1"

# progress(stage, done, total): "signing", "print sheets", "wallet passes", "recording"
Progress = Callable[[str, int, int], None]


class BatchError(ValueError):
    """The batch cannot run: the issuer is not listed, has no signing key, or the output
    folder is not empty."""


@dataclass(frozen=True)
class BatchOptions:
    """What to write besides ``cards.csv``; ``base_url`` is the kiosk's address for the
    ``card_url`` column (``https://passport.example.org``)."""

    base_url: str | None = None
    paper: str = "letter"
    pdf: bool = True
    revoke_missing: bool = False
    pass_signer: PassSigner | None = None


@dataclass(frozen=True)
class Site:
    """The issuing site as the batch needs it."""

    institution_id: str
    name: str
    timezone: str | None
    country: str | None
    today: date


@dataclass
class BatchPlan:
    """What a run would do: members to issue (with why), unchanged ones, and the members
    with a valid card who are not on the roster (``{"member_id", "expires"}``)."""

    site: Site
    roster: Roster
    key_id: str
    to_issue: list[tuple[cards.Card, str, str | None]]  # (card unsigned, why, email)
    unchanged: int
    missing: list[dict]

    def counts(self) -> dict:
        why = [reason for _, reason, _ in self.to_issue]
        return {"roster_members": len(self.roster.members), "to_issue": len(self.to_issue),
                "new": why.count(NEW), "changed": why.count(CHANGED),
                "key_ended": why.count(KEY_ENDED), "reissued": why.count(REISSUED),
                "unchanged": self.unchanged, "missing": len(self.missing)}


@dataclass
class BatchResult:
    """What a run did: counts, the members revoked, the files written, warnings."""

    batch: str
    institution_id: str
    counts: dict
    revoked: list[str]
    files: dict[str, str | None]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"batch": self.batch, "institution_id": self.institution_id,
                **self.counts, "issued": self.counts["to_issue"], "revoked": self.revoked,
                "files": self.files, "warnings": list(self.warnings)}


# --------------------------------------------------------------------------- reading

def site_for(db: sqlite_utils.Database, institution_id: str,
             now: datetime | None = None) -> Site:
    """The issuing site from the active list (``BatchError`` when a list is active and the
    site is not on it); its id alone while no list is published."""
    try:
        active = institutions.load_active(db)
    except institutions.NoActiveList:
        active = None
    row = None
    if active is not None:
        row = active.by_id.get(institution_id)
        if row is None:
            raise BatchError(f"{institution_id} is not on the active participant list "
                             f"(version {active.version})")
    zone = row.get("timezone") if row else None
    return Site(institution_id, (row or {}).get("name") or institution_id, zone,
                (row or {}).get("country"), site_local_today(zone, now))


def read_roster(db: sqlite_utils.Database, data: bytes, filename: str, site: Site, *,
                allow_expired: bool = False) -> Roster:
    """Validate a roster upload for ``site``; ``RosterError`` lists every problem."""
    profile = institutions.get_profile(db)
    rules = RosterRules(today=site.today, group_party_size=profile.group_party_size,
                        default_country=site.country, allow_expired=allow_expired)
    return parse_roster(data, filename, rules)


def content_hash(card: cards.Card) -> str:
    """A keyed hash (HMAC-SHA256 under a key derived from the instance secret) of what a
    card says about its member: tells a changed member from an unchanged one without
    keeping the names."""
    return _keyed(_hash_key(), card)


def _hash_key() -> bytes:
    return derived_key(_HASH_PURPOSE)


# --------------------------------------------------------------------------- planning

def _why(last: dict | None, digest: str, ended_keys: set[str],
         reissue_all: bool) -> str | None:
    """Why a member's card is issued in this run, or None when it is unchanged."""
    if last is None or last["action"] != "issue":
        return NEW
    if last["content_hash"] != digest:
        return CHANGED
    if last["key_id"] in ended_keys:
        return KEY_ENDED
    return REISSUED if reissue_all else None


def plan_batch(db: sqlite_utils.Database, roster: Roster, site: Site, *,
               reissue_all: bool = False, programs: Sequence[str] | str | None = None
               ) -> BatchPlan:
    """Compare ``roster`` with the cards issued before. ``programs``: what every card of the
    run qualifies for (default ASTC alone: version 1 cards; see ``cards.issue``). Raises
    ``BatchError`` without a signing key or for an unknown program, ``RosterError`` naming
    the rows of members whose cards were revoked (new cards for a revoked member id are
    refused: give them a new id)."""
    try:
        key_id = keys.signing_key(db, site.institution_id)[0]
        chosen = cards.check_known_programs(db, programs or cards.DEFAULT_PROGRAMS)
    except (keys.KeyStoreError, cards.CardIssueError) as exc:
        raise BatchError(str(exc)) from None
    latest = {row["member_id"]: row
              for row in store.latest_card_issuance_rows(db, site.institution_id)}
    ended = {k["key_id"] for k in keys.list_keys(db, site.institution_id)
             if k["status"] != keys.ACTIVE}
    revoked = {member for issuer, member in trust.load_trust(db)[1]
               if issuer == site.institution_id}
    hash_key, to_issue, unchanged, problems = _hash_key(), [], 0, []
    on_roster = set()
    for member in roster.members:
        on_roster.add(member.member_id)
        if member.member_id in revoked:
            problems.append(RowError(member.row, roster.columns.get("member_id", "member_id"),
                                     f"the cards of member {member.member_id} were revoked; "
                                     "a revoked member id gets no new card: give a new id"))
            continue
        card = cards.Card(cards.card_version(chosen), site.institution_id, key_id,
                          member.member_id, member.names, member.party_size, member.expires,
                          member.postal_code, member.country, chosen)
        digest = _keyed(hash_key, card)
        why = _why(latest.get(member.member_id), digest, ended, reissue_all)
        if why is None:
            unchanged += 1
        else:
            to_issue.append((card, why, member.email))
    if problems:
        raise RosterError(problems)
    missing = [{"member_id": m, "expires": row["expires"]} for m, row in latest.items()
               if m not in on_roster and row["action"] == "issue"
               and row["expires"] >= site.today.isoformat() and m not in revoked]
    return BatchPlan(site, roster, key_id, to_issue, unchanged, missing)


def _keyed(hash_key: bytes, card: cards.Card) -> str:
    fields = [card.member_id, "\x1e".join(card.names), card.expires.isoformat(),
              str(card.party_size), card.postal_code or "", card.country or ""]
    if card.programs != cards.DEFAULT_PROGRAMS:  # ASTC-only cards keep their earlier hash
        fields.append("\x1e".join(card.programs))
    text = "\x1f".join(fields)
    return hmac.digest(hash_key, text.encode("utf-8"), "sha256").hex()[:32]


# --------------------------------------------------------------------------- issuing

def check_out_dir(out_dir: Path) -> None:
    """``BatchError`` unless ``out_dir`` is missing or an empty folder (runs never mix)."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BatchError(f"{out_dir} is not an empty folder: give each run a new folder")


def card_url(base_url: str | None, payload: str) -> str:
    """The member's own card page for ``payload`` (a path alone without ``base_url``)."""
    return f"{(base_url or '').rstrip('/')}/card?c={payload}"


def _sign_all(db: sqlite_utils.Database, plan: BatchPlan,
              progress: Progress | None) -> list[str]:
    key_id, private_key = keys.signing_key(db, plan.site.institution_id)
    if key_id != plan.key_id:
        raise BatchError("the signing key changed since the roster was checked; check it again")
    payloads, total = [], len(plan.to_issue)
    step = max(total // 100, 1)
    for done, (card, _, _) in enumerate(plan.to_issue, start=1):
        payloads.append(cards.sign(card, private_key))
        if progress is not None and (done % step == 0 or done == total):
            progress("signing", done, total)
    return payloads


def _write_csv(path: Path, plan: BatchPlan, payloads: list[str], base_url: str | None,
               pass_files: list[str] | None) -> None:
    with_email = any(email for _, _, email in plan.to_issue)
    header = [*CSV_COLUMNS, *(["email"] if with_email else []),
              *(["pkpass"] if pass_files is not None else [])]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for k, ((card, _, email), payload) in enumerate(zip(plan.to_issue, payloads,
                                                              strict=True)):
            row = [card.member_id, NAMES_JOINER.join(card.names), card.expires.isoformat(),
                   payload, card_url(base_url, payload)]
            if with_email:
                row.append(email or "")
            if pass_files is not None:
                row.append(f"{PKPASS_DIR}/{pass_files[k]}")
            writer.writerow([inert(cell) for cell in row])  # the roster refuses these; twice safe


def _write_pdf(path: Path, db: sqlite_utils.Database, plan: BatchPlan, payloads: list[str],
               paper: str, progress: Progress | None) -> list[str]:
    total = len(payloads)
    printed = (PrintCard(payload, card.member_id, card.names, card.expires, card.party_size,
                         card.programs)
               for (card, _, _), payload in zip(plan.to_issue, payloads, strict=True))
    result = write_sheets(path, printed, home_name=plan.site.name,
                          benefit=benefit_sentence(institutions.get_profile(db)), paper=paper,
                          progress=(lambda n: progress("print sheets", n, total))
                          if progress is not None else None)
    return result.warnings


def _write_passes(folder: Path, db: sqlite_utils.Database, plan: BatchPlan,
                  payloads: list[str], signer: PassSigner, names: list[str],
                  progress: Progress | None) -> None:
    folder.mkdir()
    benefit = benefit_sentence(institutions.get_profile(db))
    site, total = plan.site, len(payloads)
    for done, ((card, _, _), payload, name) in enumerate(
            zip(plan.to_issue, payloads, names, strict=True), start=1):
        content = PassContent(payload, card.member_id, card.names, card.expires,
                              card.party_size, site.institution_id, site.name, benefit,
                              site.timezone)
        (folder / name).write_bytes(build_pkpass(signer, content))
        if progress is not None:
            progress("wallet passes", done, total)


def issue_batch(db: sqlite_utils.Database, plan: BatchPlan, out_dir: str | Path,
                options: BatchOptions, *, actor: str, now: datetime | None = None,
                progress: Progress | None = None) -> BatchResult:
    """Sign the planned cards, write the files into ``out_dir`` (created; must be empty),
    then record the run (and revoke missing members' cards when asked) in one transaction.
    Example::

        site = site_for(db, "exploratorium-san-francisco")
        plan = plan_batch(db, read_roster(db, data, "members.csv", site), site)
        issue_batch(db, plan, "out/2026-06", BatchOptions(base_url="https://passport.example.org"),
                    actor="cli:ada")
    """
    out = Path(out_dir)
    check_out_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    payloads = _sign_all(db, plan, progress)
    taken: set[str] = set()
    pass_files = ([pass_filename(card.member_id, taken) for card, _, _ in plan.to_issue]
                  if options.pass_signer is not None else None)
    _write_csv(out / CSV_NAME, plan, payloads, options.base_url, pass_files)
    warnings = [] if options.base_url else [
        "no base URL: card_url holds the /card?c= path only (give --base-url or set "
        "$PASSPORT_BASE_URL)"]
    files = {"csv": str(out / CSV_NAME), "pdf": None, "pkpass": None}
    if options.pdf and payloads:
        warnings += _write_pdf(out / PDF_NAME, db, plan, payloads, options.paper, progress)
        files["pdf"] = str(out / PDF_NAME)
    if options.pass_signer is not None and payloads:
        _write_passes(out / PKPASS_DIR, db, plan, payloads, options.pass_signer,
                      pass_files, progress)
        files["pkpass"] = str(out / PKPASS_DIR)
    batch = secrets.token_hex(8)
    revoked = _record(db, plan, batch, actor, now, options.revoke_missing, progress)
    return BatchResult(batch, plan.site.institution_id, plan.counts(), revoked, files,
                       plan.roster.warnings + warnings)


def _record(db: sqlite_utils.Database, plan: BatchPlan, batch: str, actor: str,
            now: datetime | None, revoke_missing: bool, progress: Progress | None) -> list[str]:
    """Record the issued cards and revoke the missing members' (when asked), all or nothing."""
    at = _iso(now)
    institution, hash_key = plan.site.institution_id, _hash_key()
    rows = [{"at": at, "actor": actor, "institution_id": institution,
             "member_id": card.member_id, "action": "issue", "key_id": card.key_id,
             "expires": card.expires.isoformat(), "content_hash": _keyed(hash_key, card),
             "batch": batch} for card, _, _ in plan.to_issue]
    revoked = [m["member_id"] for m in plan.missing] if revoke_missing else []
    reason = f"not on the member roster {plan.roster.source_name} ({plan.site.today})"
    with db.atomic():
        for member_id in revoked:  # each audited by revoke_card as "card.revoked"
            trust.revoke_card(db, institution, member_id, reason, actor=actor)
        rows += [{"at": at, "actor": actor, "institution_id": institution, "member_id": m,
                  "action": "revoke", "batch": batch} for m in revoked]
        store.insert_card_issuance_rows(db, rows)
        if plan.to_issue:
            audit.record(db, actor, "cards.issued", institution,
                         {"batch": batch, **plan.counts(), "key_id": plan.key_id,
                          "roster": plan.roster.source_name,
                          "roster_sha256": plan.roster.sha256}, now=now)
    if progress is not None:
        progress("recording", 1, 1)
    return revoked


def recent_batches(db: sqlite_utils.Database, limit: int = 20) -> list[dict]:
    """The newest runs, newest first: ``batch, institution_id, actor, at, issued, revoked``."""
    return store.card_issuance_batch_rows(db, limit)


# --------------------------------------------------------------------------- single cards

def record_issue(db: sqlite_utils.Database, actor: str, payload: str,
                 now: datetime | None = None) -> None:
    """Record one card issued outside a batch (``passport card issue``, which audits it
    itself), so that renewals and ``revoke_missing`` know it."""
    card = cards.decode(payload)
    store.insert_card_issuance_rows(db, [{
        "at": _iso(now), "actor": actor, "institution_id": card.issuer_id,
        "member_id": card.member_id, "action": "issue", "key_id": card.key_id,
        "expires": card.expires.isoformat(), "content_hash": content_hash(card)}])


def record_revocation(db: sqlite_utils.Database, actor: str, institution_id: str,
                      member_id: str, now: datetime | None = None) -> None:
    """Record a member's cards revoked outside a batch (``passport cards revoke``;
    ``trust.revoke_card`` audits the revocation itself)."""
    store.insert_card_issuance_rows(db, [{
        "at": _iso(now), "actor": actor, "institution_id": institution_id,
        "member_id": member_id, "action": "revoke"}])


def _iso(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
