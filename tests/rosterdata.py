"""Member rosters for the card-batch tests: generated CRM-style exports, and a store with
the shipped participant list and an issuing key."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

from passport import institutions, keys

ISSUER = "exploratorium-san-francisco"
FIRST = ("Ada", "Grace", "Alan", "Katherine", "Zoë", "José", "Mary", "Charles", "Hedy", "Tim")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Łukasiewicz", "Nuñez", "Somerville",
        "Babbage", "Lamarr", "Berners-Lee")
# Tessitura/Altru-style headers, in a CRM's order (names as first/last pairs)
HEADER = ("Constituent ID", "First Name", "Last Name", "Spouse First Name", "Spouse Last Name",
          "Exp Date", "Membership Level", "Zip", "Email Address")


def member_rows(count: int, start_expiry: date = date(2098, 1, 31)) -> list[dict[str, str]]:
    """``count`` members: every third a family with a second cardholder, US ZIP codes
    (some that Excel stripped of a leading zero), US month-first expiry dates."""
    rows = []
    for n in range(count):
        family = n % 3 == 0
        expires = start_expiry + timedelta(days=n % 300)
        rows.append({
            "Constituent ID": f"C{100000 + n}",
            "First Name": FIRST[n % len(FIRST)],
            "Last Name": LAST[(n // 10) % len(LAST)],
            "Spouse First Name": FIRST[(n + 3) % len(FIRST)] if family else "",
            "Spouse Last Name": LAST[(n // 10) % len(LAST)] if family else "",
            "Exp Date": f"{expires.month:02d}/{expires.day:02d}/{expires.year}",
            "Membership Level": "Family" if family else "Individual",
            "Zip": ("2134" if n % 7 == 0 else f"9{4100 + n % 90:04d}"),
            "Email Address": f"member{n}@example.org" if n % 2 else "",
        })
    return rows


def write_roster(path: Path, rows: list[dict[str, str]], header=HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(header))
        writer.writeheader()
        writer.writerows(rows)
    return path


def issuing_store(db, institution: str = ISSUER) -> None:
    """The shipped participant list published and a signing key for ``institution``."""
    institutions.ensure_default_list(db)
    keys.create_key(db, institution)


def read_cards_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def expected_names(row: dict[str, str]) -> list[str]:
    names = [f"{row['First Name']} {row['Last Name']}"]
    if row["Spouse First Name"]:
        names.append(f"{row['Spouse First Name']} {row['Spouse Last Name']}")
    return names
