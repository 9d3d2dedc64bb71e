"""Visit reports: what a program office asks of the check-in log.

``visits(db, from_=, to=, by=, tz_name=)`` counts, per key, the parties admitted and denied
and the people admitted free (the membership covered them) and paying. ``by`` is ``month``,
``home`` (the member's home institution), ``visit`` (the visited site), ``reason`` (each
reason code of an entry: denials by reason, and notes such as PARTY_TOO_LARGE on admissions),
``weekday`` or ``hour``. Undone visits count nowhere, and undo rows are not visits.

Days are local days of ``tz_name`` (the kiosk's own site's zone; UTC when None), and so are
months, weekdays and hours: ``from_``/``to`` are whole local days, both included.

Speed. The log keeps running totals (``checkin_totals``, kept by triggers in each insert's
transaction, see ``store``): per UTC hour (and quarter of an hour) and per UTC month for
home, visit and reason. SQLite knows no IANA zones, so a report reads the hour totals of its
UTC range and shifts each hour by the zone's offset at that instant (one offset per UTC day,
computed exactly on a day with a DST change); a zone whose offset is not whole hours
(Newfoundland, India) reads quarter-hour totals instead. Home, visit and reason read the
whole UTC months inside the range from the totals and the rest (at most a month at either
end, where a local day straddles a UTC month) from the log itself. A report over a million
entries reads a few thousand rows (``passport bench``, section reports).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlite_utils

from passport import store
from passport.importer import inert
from passport.rules import DEFAULT_PROFILE_NAME

BYS = ("month", "home", "visit", "reason", "weekday", "hour")
FORMATS = ("table", "csv", "json", "xlsx")
COLUMNS = ("admitted", "people_free", "people_paying", "denied")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HOURS = tuple(f"{hour:02d}" for hour in range(24))
NO_KEY = "(none)"  # an entry logged without a home institution
# Report bounds: no check-in predates the card format's epoch (2000), and two centuries of
# months keep a by-month report small; outside them the UTC and local-day arithmetic would
# leave datetime's range (years 1 and 9999) or print unpadded years (API fuzzing found both).
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2199, 12, 31)
HEADINGS = {
    "admitted": "Parties admitted", "people_free": "People admitted free",
    "people_paying": "People paying", "denied": "Parties denied",
    "month": "Month", "home": "Home institution", "visit": "Visited site",
    "reason": "Reason", "weekday": "Weekday", "hour": "Hour",
}
# The totals' order of values (store._TOTAL_VALUES) -> the report's names.
_STORE_ORDER = ("admitted", "denied", "people_free", "people_paying")


class ReportError(ValueError):
    """A report parameter is not valid (the message names it)."""


class _NeedQuarters(Exception):
    """The zone's offset is not whole hours in the range: read quarter-hour totals."""


@dataclass(frozen=True)
class _Range:
    zone: tzinfo
    first: date | None
    last: date | None

    def instant(self, day: date) -> datetime:
        """Local midnight starting ``day``, as a UTC instant."""
        return datetime.combine(day, time(), self.zone).astimezone(UTC)

    @property
    def start(self) -> datetime | None:
        return self.instant(self.first) if self.first else None

    @property
    def end(self) -> datetime | None:
        return self.instant(self.last + timedelta(days=1)) if self.last else None


def zone_of(tz_name: str | None) -> tuple[tzinfo, str]:
    """The IANA zone ``tz_name`` and its name; UTC when None or unknown."""
    try:
        if tz_name:
            return ZoneInfo(tz_name), tz_name
    except (ZoneInfoNotFoundError, ValueError):
        pass
    return UTC, "UTC"


def site_zone_name(db: sqlite_utils.Database, site_id: str | None) -> str | None:
    """The IANA zone of ``site_id`` on the active list; None without a site, list or zone
    (reports then count UTC days)."""
    version = store.get_active_list_version(db, DEFAULT_PROFILE_NAME) if site_id else None
    if version is None:
        return None  # (the rows, not load_active: no distance table for a report)
    row = next((r for r in store.get_institution_rows(db, version) if r["id"] == site_id), None)
    return (row or {}).get("timezone") or None


def parse_day(value: date | str | None, name: str) -> date | None:
    """A report bound: a ``YYYY-MM-DD`` date (or a date), None when empty."""
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise ReportError(f"'{name}' must be a date YYYY-MM-DD, not {value!r}") from exc
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ReportError(f"'{name}' must be {EARLIEST_DAY} to {LATEST_DAY}, not {text}")
    return day


def check_by(by: str | None) -> str:
    if by not in BYS:
        raise ReportError(f"'by' must be one of {', '.join(BYS)}, not {by!r}")
    return by


def check_format(fmt: str | None) -> str:
    if fmt not in FORMATS:
        raise ReportError(f"'format' must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return fmt


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat(timespec="microseconds") if instant else None


def _add(totals: dict[str, list[int]], key: str, values: Iterable[int | None]) -> None:
    row = totals.setdefault(key, [0, 0, 0, 0])
    for index, value in enumerate(values):
        row[index] += value or 0


# --------------------------------------------------------------------------- home, visit, reason

def _month_start(instant: datetime) -> datetime:
    return instant.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(instant: datetime) -> datetime:
    start = _month_start(instant)
    return (start + timedelta(days=32)).replace(day=1)


def _keyed(db: sqlite_utils.Database, dim: str, span: _Range) -> dict[str, list[int]]:
    """Totals per key: whole UTC months from the running totals, the ends from the log."""
    start, end = span.start, span.end
    inner_start = None
    if start is not None:
        inner_start = start if start == _month_start(start) else _next_month(start)
    inner_end = _month_start(end) if end is not None else None
    totals: dict[str, list[int]] = {}
    if inner_start is not None and inner_end is not None and inner_start >= inner_end:
        parts = [(start, end)]  # no whole month inside: all from the log
    else:
        parts = [(start, inner_start)] if inner_start not in (None, start) else []
        parts += [(inner_end, end)] if inner_end is not None and inner_end != end else []
        for key, *values in store.report_totals(
                db, dim, inner_start.strftime("%Y-%m") if inner_start else None,
                inner_end.strftime("%Y-%m") if inner_end else None):
            _add(totals, key, values)
    for low, high in parts:
        for key, *values in store.report_raw(db, dim, _iso(low), _iso(high)):
            _add(totals, key, values)
    return totals


# --------------------------------------------------------------------------- month, weekday, hour

class _LocalClock:
    """UTC (date, minute of the day) -> local (day number, hour) in one zone: an offset per
    UTC day, exact on the days the offset changes. Day numbers are proleptic ordinals."""

    def __init__(self, zone: tzinfo, whole_hours: bool) -> None:
        self.zone, self.whole_hours = zone, whole_hours
        self._days: dict[str, tuple[int, int | None]] = {}

    def _offset_minutes(self, instant: datetime) -> int:
        offset = instant.astimezone(self.zone).utcoffset() or timedelta()
        minutes = int(offset.total_seconds()) // 60
        if self.whole_hours and minutes % 60:
            raise _NeedQuarters
        return minutes

    def _day(self, period: str) -> tuple[int, int | None]:
        midnight = datetime.combine(date.fromisoformat(period), time(), UTC)
        first = self._offset_minutes(midnight)
        same = first == self._offset_minutes(midnight + timedelta(days=1))
        day = self._days[period] = (midnight.toordinal(), first if same else None)
        return day

    def local(self, period: str, minute: int) -> tuple[int, int]:
        ordinal, offset = self._days.get(period) or self._day(period)
        if offset is None:  # the offset changes this UTC day: exact for this minute
            offset = self._offset_minutes(datetime.combine(date.fromordinal(ordinal), time(), UTC)
                                          + timedelta(minutes=minute))
        shift, local_minute = divmod(minute + offset, 24 * 60)
        return ordinal + shift, local_minute // 60


def _time_key(by: str, ordinal: int, hour: int) -> str:
    if by == "hour":
        return HOURS[hour]
    local_day = date.fromordinal(ordinal)
    if by == "month":
        return f"{local_day.year:04d}-{local_day.month:02d}"
    return WEEKDAYS[local_day.weekday()]


def _bound(moment: datetime | None, dim: str) -> str | None:
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H" if dim == "hour" else "%Y-%m-%dT%H:%M")


def _fold(rows: list[tuple], by: str, clock: _LocalClock) -> dict[str, list[int]]:
    """Sum hour (or quarter-hour) totals into local months, weekdays or hours."""
    totals: dict[str, list[int]] = {}
    keys: dict[tuple[int, int], str] = {}
    for period, key, admitted, denied, free, paying in rows:
        minute = int(key[:2]) * 60 + (int(key[3:]) if len(key) > 2 else 0)
        moment = clock.local(period, minute)
        name = keys.get(moment)
        if name is None:
            name = keys[moment] = _time_key(by, *moment)
        row = totals.get(name)
        if row is None:
            totals[name] = [admitted, denied, free, paying]
        else:
            row[0] += admitted
            row[1] += denied
            row[2] += free
            row[3] += paying
    return totals


def _whole_hours(zone: tzinfo, span: _Range) -> bool:
    """Whether local midnights and the zone's offsets (sampled each season of the range's
    years) are whole hours from UTC; if an offset off the samples is not, the hour totals
    raise _NeedQuarters and the quarter-hour ones serve."""
    if any(moment is not None and moment.minute for moment in (span.start, span.end)):
        return False
    years = range((span.first or date(2000, 1, 1)).year, (span.last or date.today()).year + 1)
    return all((datetime(year, month, 15, tzinfo=UTC).astimezone(zone).utcoffset()
                or timedelta()).total_seconds() % 3600 == 0
               for year in years for month in (1, 4, 7, 10))


def _timed(db: sqlite_utils.Database, by: str, span: _Range) -> dict[str, list[int]]:
    """Totals per local month, weekday or hour from the hour (or quarter-hour) totals."""
    for dim in (("hour", "quarter") if _whole_hours(span.zone, span) else ("quarter",)):
        rows = store.report_time_totals(db, dim, _bound(span.start, dim), _bound(span.end, dim))
        try:
            return _fold(rows, by, _LocalClock(span.zone, whole_hours=dim == "hour"))
        except _NeedQuarters:
            continue
    raise AssertionError("quarter-hour totals serve every zone")  # pragma: no cover


# --------------------------------------------------------------------------- the report

def _months(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _ordered_keys(by: str, totals: dict[str, list[int]], span: _Range) -> list[str]:
    """Months in order (every month from the first to the last, empty ones too), all seven
    weekdays and 24 hours; other keys busiest first (parties admitted and denied)."""
    if by == "weekday":
        return list(WEEKDAYS)
    if by == "hour":
        return list(HOURS)
    if by == "month":
        known = sorted(totals)
        first = span.first.strftime("%Y-%m") if span.first else (known[0] if known else None)
        last = span.last.strftime("%Y-%m") if span.last else (known[-1] if known else None)
        return _months(first, last) if first and last else []
    return sorted(totals, key=lambda k: (-(totals[k][0] + totals[k][1]), k))


def visits(db: sqlite_utils.Database, *, from_: date | str | None = None,
           to: date | str | None = None, by: str = "month",
           tz_name: str | None = None) -> dict[str, Any]:
    """``{"by", "from", "to", "time_zone", "rows": [{"key", "admitted", "people_free",
    "people_paying", "denied"}]}`` over the local days ``from_``..``to`` (both included;
    None: open) in the zone ``tz_name`` (UTC when None). ``admitted``/``denied`` count
    parties. Raises ReportError naming a bad parameter."""
    by = check_by(by)
    first, last = parse_day(from_, "from"), parse_day(to, "to")
    if first and last and first > last:
        raise ReportError(f"'from' {first} is after 'to' {last}")
    zone, zone_name = zone_of(tz_name)
    span = _Range(zone, first, last)
    totals = _keyed(db, by, span) if by in ("home", "visit", "reason") else _timed(db, by, span)
    totals = {key: values for key, values in totals.items() if any(values)}
    rows = []
    for key in _ordered_keys(by, totals, span):
        values = dict(zip(_STORE_ORDER, totals.get(key, [0, 0, 0, 0]), strict=True))
        rows.append({"key": key or NO_KEY, **{name: values[name] for name in COLUMNS}})
    return {"by": by, "from": first.isoformat() if first else None,
            "to": last.isoformat() if last else None, "time_zone": zone_name, "rows": rows}


# --------------------------------------------------------------------------- output

def _cells(report: dict) -> tuple[list[str], list[list[Any]]]:
    """Header and rows, every text cell inert for spreadsheets (importer.inert)."""
    header = [report["by"], *COLUMNS]
    rows = [[inert(row["key"]), *(row[name] for name in COLUMNS)] for row in report["rows"]]
    return header, rows


MEDIA_TYPES = {
    "json": "application/json", "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "table": "text/plain; charset=utf-8",
}


def filename(report: dict, fmt: str) -> str:
    """A download's name: ``visits-by-month_2026-01-01_2026-12-31.csv``."""
    days = "".join(f"_{report[name]}" for name in ("from", "to") if report[name])
    return f"visits-by-{report['by']}{days}.{'txt' if fmt == 'table' else fmt}"


def render(report: dict, fmt: str) -> str | bytes:
    """The report in ``fmt`` (json, csv, xlsx, table): text, or bytes for xlsx."""
    check_format(fmt)
    if fmt == "json":
        return json.dumps(report) + "\n"
    if fmt == "csv":
        return to_csv(report)
    if fmt == "xlsx":
        return to_xlsx(report)
    return to_table(report) + "\n"


def to_csv(report: dict) -> str:
    """The report as CSV: a header (``by``, then the counts), one line per key."""
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180 CRLF: a CR or LF inside a cell gets it quoted
    header, rows = _cells(report)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def describe(report: dict) -> str:
    """One line: what the report counts, over which days, in which zone."""
    days = (f"{report['from'] or 'the first entry'} to {report['to'] or 'the last entry'}")
    zone = report["time_zone"]
    where = "UTC days (no site time zone)" if zone == "UTC" else f"local days in {zone}"
    return (f"Visits by {report['by']}, {days} ({where}); undone visits left out; "
            "parties admitted and denied, people admitted free and paying")


def to_xlsx(report: dict) -> bytes:
    """The report as an XLSX workbook: the sheet "Visits", then "About" (range, zone)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Visits"
    header, rows = _cells(report)
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    sheet.column_dimensions["A"].width = max([12, *(len(str(r[0])) + 2 for r in rows)])
    about = book.create_sheet("About")
    for name in ("by", "from", "to", "time_zone"):
        about.append([name, inert(report[name]) if report[name] is not None else ""])
    about.append(["note", describe(report)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_table(report: dict) -> str:
    """The report as a text table for people, with a total line (except by reason, where an
    entry with several reasons counts once per reason)."""
    header = [HEADINGS[report["by"]], *(HEADINGS[name] for name in COLUMNS)]
    lines = [[row["key"], *(str(row[name]) for name in COLUMNS)] for row in report["rows"]]
    if report["by"] != "reason":
        lines.append(["Total", *(str(sum(row[name] for row in report["rows"]))
                                 for name in COLUMNS)])
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]

    def render(cells: list[str]) -> str:
        return "  ".join([cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in
                                                       zip(cells[1:], widths[1:], strict=True)])

    body = [render(cells) for cells in lines] if report["rows"] else ["(no visits)"]
    return "\n".join([describe(report), "", render(header), *body])
