"""The network's reports, from the check-ins the sites sent (PostgreSQL).

``visits(pool, by=...)`` answers the same JSON as a site's ``passport report visits
--format json`` (``passport.reports``): ``{"by", "from", "to", "time_zone", "rows": [{"key",
"admitted", "people_free", "people_paying", "denied"}]}``. ``by`` is ``home``, ``visit``,
``month`` or ``reason`` (denials and notes by reason code), or several of home, visit and
month joined by commas (``home,visit,month``: each row also names its home, visit and
month, and ``key`` joins them with ``|``). ``by="balance"`` is the reciprocity balance per
site: parties it admitted from other homes (``received``) against its members' parties
admitted elsewhere (``sent``), with the people admitted free each way and ``balance`` =
received - sent. Dates are each site's own local dates (``time_zone`` says so); undone
visits and undo rows count nowhere, as on a site.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from passport import hubstore
from passport.hub import HubError
from passport.importer import inert
from passport.reports import COLUMNS, NO_KEY, ReportError, parse_day

SINGLE = ("month", "home", "visit", "reason")
CROSS = ("home", "visit", "month")
BALANCE_COLUMNS = ("received", "received_people_free", "sent", "sent_people_free", "balance")
TIME_ZONE = "site-local"  # each check-in's local date at the site that logged it
FORMATS = ("json", "csv")


class HubReportError(HubError, ValueError):
    """A report parameter is not valid (the message names it)."""


def check_by(by: str) -> list[str]:
    """The dimensions of ``by`` (``balance`` alone)."""
    parts = [p.strip() for p in str(by).split(",")]
    if by == "balance" or (len(parts) == 1 and parts[0] in SINGLE):
        return parts
    if len(parts) > 1 and len(set(parts)) == len(parts) and set(parts) <= set(CROSS):
        return parts
    raise HubReportError(f"'by' must be one of {', '.join(SINGLE)}, balance, or several of "
                         f"{', '.join(CROSS)} joined by commas, not {by!r}")


def _span(from_: Any, to: Any) -> tuple[date | None, date | None]:
    try:
        first, last = parse_day(from_, "from"), parse_day(to, "to")
    except ReportError as exc:
        raise HubReportError(str(exc)) from exc
    if first and last and first > last:
        raise HubReportError(f"'from' {first} is after 'to' {last}")
    return first, last


def _months(first: str, last: str) -> list[str]:
    year, month, out = int(first[:4]), int(first[5:7]), []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _ordered(rows: list[dict], by: str, first: date | None, last: date | None) -> list[dict]:
    """Months in order with the empty ones between (as a site's report), others busiest
    first."""
    if by != "month":
        return sorted(rows, key=lambda r: (-(r["admitted"] + r["denied"]), r["key"]))
    found = {row["key"]: row for row in rows}
    low = first.strftime("%Y-%m") if first else min(found, default=None)
    high = last.strftime("%Y-%m") if last else max(found, default=None)
    if low is None or high is None:
        return []
    empty = dict.fromkeys(COLUMNS, 0)
    return [found.get(month, {"key": month, **empty}) for month in _months(low, high)]


def visits(pool: hubstore.Pool, *, by: str = "month", from_: Any = None,
           to: Any = None) -> dict:
    """The report (see the module doc); ``HubReportError`` names a bad parameter."""
    dims = check_by(by)
    first, last = _span(from_, to)
    low, high = first or date(1, 1, 1), last or date(9999, 12, 31)
    report = {"by": by, "from": first.isoformat() if first else None,
              "to": last.isoformat() if last else None, "time_zone": TIME_ZONE}
    if dims == ["balance"]:
        return {**report, "rows": _balance(pool, low, high)}
    rows = []
    for found in hubstore.report_rows(pool, dims, low, high):
        names = [found[f"d{n}"] or NO_KEY for n in range(len(dims))]
        row = {"key": "|".join(names)}
        if len(dims) > 1:
            row.update(zip(dims, names, strict=True))
        rows.append({**row, **{name: int(found[name]) for name in COLUMNS}})
    return {**report, "rows": _ordered(rows, by, first, last)}


def _balance(pool: hubstore.Pool, low: date, high: date) -> list[dict]:
    rows = [{"key": r["site"], "received": int(r["received"]),
             "received_people_free": int(r["received_free"] or 0), "sent": int(r["sent"]),
             "sent_people_free": int(r["sent_free"] or 0),
             "balance": int(r["received"]) - int(r["sent"])}
            for r in hubstore.balance_rows(pool, low, high)]
    return sorted(rows, key=lambda r: (-r["balance"], r["key"]))


def header(report: dict) -> list[str]:
    """The CSV columns of a report."""
    if report["by"] == "balance":
        return ["site", *BALANCE_COLUMNS]
    dims = check_by(report["by"])
    return [*(dims if len(dims) > 1 else [report["by"]]), *COLUMNS]


def cells(report: dict) -> list[list]:
    """Each row's cells in ``header``'s order."""
    columns = header(report)
    single = len(check_by(report["by"])) == 1
    return [([row["key"]] if single else []) + [row[c] for c in columns[1 if single else 0:]]
            for row in report["rows"]]


def to_csv(report: dict) -> str:
    """The report as CSV (every text cell inert for spreadsheets)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header(report))
    writer.writerows([inert(cell) for cell in row] for row in cells(report))
    return out.getvalue()


def filename(report: dict, fmt: str) -> str:
    days = "".join(f"_{report[name]}" for name in ("from", "to") if report[name])
    return f"hub-visits-by-{report['by'].replace(',', '-')}{days}.{fmt}"
