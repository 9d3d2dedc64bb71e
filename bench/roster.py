"""Benchmark: cards for a whole membership (issue 12's targets), in one process on one store.

- ``ed25519_sign_raw``: the floor, 20,000 bare Ed25519 signatures (``cryptography``, what
  ``passport.cards.sign`` uses) of messages as long as a typical card's;
- ``issue_to_csv``: the same count of members, validated already, signed and written to
  ``cards.csv`` and recorded in the store (``passport.issuance.issue_batch`` without print
  sheets); target: at most ``CSV_TARGET_RATIO`` times the raw signing of the same run;
- ``read_roster``: reading and validating the 20,000-row CRM export (CSV) itself, not in the
  target;
- ``print_sheets``: 1,000 cards of print sheets (PDF, QR codes as vectors); target
  ``PDF_TARGET_S`` seconds.

``python -m bench.roster`` runs it alone.
"""

from __future__ import annotations

import csv
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.registry import environment
from passport import institutions, issuance, keys, store

ISSUER = "exploratorium-san-francisco"
MEMBERS = 20_000
SHEET_CARDS = 1_000
CSV_TARGET_RATIO = 4.0
PDF_TARGET_S = 10.0
FIRST = ("Ada", "Grace", "Alan", "Katherine", "Zoë", "José", "Mary", "Charles")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Nuñez", "Somerville", "Babbage", "Lamarr")


def _roster(path: Path, count: int) -> None:
    """A Tessitura-style export: every third member a family with a second cardholder."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Constituent ID", "First Name", "Last Name", "Spouse First Name",
                         "Spouse Last Name", "Exp Date", "Membership Level", "Zip"])
        for n in range(count):
            family, expires = n % 3 == 0, date(2098, 1, 1) + timedelta(days=n % 365)
            last = LAST[n // 8 % len(LAST)]
            writer.writerow([f"C{100000 + n}", FIRST[n % 8], last,
                             FIRST[(n + 3) % 8] if family else "", last if family else "",
                             f"{expires.month:02d}/{expires.day:02d}/{expires.year}",
                             "Family" if family else "Individual", f"9{4100 + n % 90:04d}"])


def _raw_sign_s(count: int, message_bytes: int) -> float:
    private = Ed25519PrivateKey.generate()
    messages = [n.to_bytes(4, "big") * (message_bytes // 4) for n in range(count)]
    started = time.perf_counter()
    for message in messages:
        private.sign(message)
    return time.perf_counter() - started


def _issue(db, folder: Path, count: int) -> dict:
    roster_path = folder / "roster.csv"
    _roster(roster_path, count)
    started = time.perf_counter()
    site = issuance.site_for(db, ISSUER)
    roster = issuance.read_roster(db, roster_path.read_bytes(), roster_path.name, site)
    plan = issuance.plan_batch(db, roster, site)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    issuance.issue_batch(db, plan, folder / "csv-run", issuance.BatchOptions(pdf=False),
                         actor="bench")
    issue_s = time.perf_counter() - started
    with (folder / "csv-run" / issuance.CSV_NAME).open(encoding="utf-8") as handle:
        first = next(csv.DictReader(handle))
    return {"read_s": read_s, "issue_s": issue_s, "plan": plan,
            # the signed message: b"PYZ1" + the body (the payload less its signature)
            "message_bytes": (len(first["payload"]) - 4) * 5 // 8 - 64 + 4}


def _sheets_s(db, plan, folder: Path, count: int) -> float:
    """Print sheets of the first ``count`` members (signed again: a fresh run)."""
    subset = issuance.BatchPlan(plan.site, plan.roster, plan.key_id, plan.to_issue[:count],
                                0, [])
    started = time.perf_counter()
    issuance.issue_batch(db, subset, folder / "pdf-run", issuance.BatchOptions(), actor="bench")
    total_s = time.perf_counter() - started
    return total_s


def _figures(members: int, sheets: int, folder: Path) -> dict:
    db = store.open_db(folder / "bench.sqlite")
    try:
        institutions.ensure_default_list(db)
        keys.create_key(db, ISSUER)
        issued = _issue(db, folder, members)
        raw_s = _raw_sign_s(members, issued["message_bytes"])
        pdf_s = _sheets_s(db, issued["plan"], folder, sheets)
    finally:
        db.close()
    ratio = issued["issue_s"] / raw_s
    return {
        "ed25519_sign_raw": {"members": members, "seconds": round(raw_s, 3),
                             "per_card_us": round(raw_s / members * 1e6, 1)},
        "issue_to_csv": {"members": members, "seconds": round(issued["issue_s"], 3),
                         "per_card_us": round(issued["issue_s"] / members * 1e6, 1),
                         "x_raw_signing": round(ratio, 2), "target_x": CSV_TARGET_RATIO,
                         "met": ratio <= CSV_TARGET_RATIO},
        "read_roster": {"members": members, "seconds": round(issued["read_s"], 3)},
        "print_sheets": {"cards": sheets, "seconds": round(pdf_s, 3),
                         "target_s": PDF_TARGET_S, "met": pdf_s <= PDF_TARGET_S},
    }


def run(members: int = MEMBERS, sheets: int = SHEET_CARDS) -> dict:
    """Time a whole membership's cards; returns ``{"name", "results": {case: figures}}``."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        # the instance folder (and so the key secret) in the temp folder while it runs
        with environment(PASSPORT_INSTANCE=str(folder / "instance"), PASSPORT_SECRET_KEY=None):
            results = _figures(members, sheets, folder)
    return {"name": "roster", "results": results}


if __name__ == "__main__":  # python -m bench.roster
    import json

    print(json.dumps(run(), indent=2))  # noqa: T201 (a script's output)
