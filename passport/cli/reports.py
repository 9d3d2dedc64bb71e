"""CLI commands: visit reports over the check-in log, and the audit log."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import click

from passport import audit, ownsite, reports
from passport.cli import main
from passport.cli.common import emit, fail, json_option, open_store


@main.group()
def report() -> None:
    """Reports over the check-in log (see also the admin console's Reports page)."""


def _write(out: Path, data: str | bytes) -> None:
    try:
        if isinstance(data, bytes):
            out.write_bytes(data)
        else:
            out.write_text(data, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")


@report.command("visits")
@click.option("--from", "from_", metavar="YYYY-MM-DD", help="First local day (default: the "
              "first entry).")
@click.option("--to", metavar="YYYY-MM-DD", help="Last local day, included (default: the last "
              "entry).")
@click.option("--by", type=click.Choice(reports.BYS), default="month", show_default=True,
              help="One row per month, home institution, visited site, reason code, weekday "
              "or hour.")
@click.option("--format", "fmt", type=click.Choice(reports.FORMATS), default="table",
              show_default=True, help="xlsx needs --out.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report to this file instead of printing it.")
@json_option
def report_visits(from_: str | None, to: str | None, by: str, fmt: str, out: Path | None,
                  as_json: bool) -> None:
    """Visits admitted and denied: parties, people free and paying, by month, home, ...

    Days, months, weekdays and hours are local to this kiosk's own site (the admin
    console's setting, else $PASSPORT_SITE); UTC when it has none, and the output says
    which. Undone visits are left out. --json is --format json: {"by", "from", "to",
    "time_zone", "rows": [{"key", "admitted", "people_free", "people_paying", "denied"}]}.
    CSV and XLSX cells a spreadsheet would run as a formula start with '.

    \b
    Example:
      passport report visits --from 2026-01-01 --to 2026-12-31 --by home
      passport report visits --by month --format xlsx --out visits-2026.xlsx
    """
    fmt = "json" if as_json else fmt
    if fmt == "xlsx" and out is None:
        fail("--format xlsx writes a workbook: give --out FILE.xlsx")
    with closing(open_store(must_exist=True)) as db:
        zone = reports.site_zone_name(db, ownsite.own_site_from_environment(db))
        try:
            result = reports.visits(db, from_=from_, to=to, by=by, tz_name=zone)
        except reports.ReportError as exc:
            fail(str(exc).replace("'from'", "--from").replace("'to'", "--to"))
    data = reports.render(result, fmt)
    if out is None:
        click.echo(data, nl=False)
        return
    _write(out, data)
    click.echo(f"Wrote {len(result['rows'])} rows to {out} ({reports.describe(result)}).",
               err=fmt == "json")


def _audit_line(entry: dict, zone) -> str:
    subject = f" {entry['subject']}" if entry["subject"] else ""
    details = audit.details_text(entry["details"])
    return (f"{audit.local_minute(entry['at'], zone)}  {entry['actor']}  {entry['action']}"
            f"{subject}" + (f"  ({details})" if details else ""))


@main.command("audit")
@click.option("--action", help="Only this action (e.g. list.published, key.revoked).")
@click.option("--actor", help="Only this actor (a user name, or cli:<OS user>).")
@click.option("--from", "from_", metavar="YYYY-MM-DD", help="First local day.")
@click.option("--to", metavar="YYYY-MM-DD", help="Last local day, included.")
@click.option("--limit", type=click.IntRange(1, audit.MAX_PAGE), default=50, show_default=True,
              help="At most N entries, newest first.")
@json_option
def audit_cmd(action: str | None, actor: str | None, from_: str | None, to: str | None,
              limit: int, as_json: bool) -> None:
    """Who did what, when: lists published and rolled back, cards, keys, tokens, users and
    the kiosk's site; newest first, times in the kiosk site's local time (UTC without one).

    \b
    Example:
      passport audit --action list.rolled_back --limit 10
      passport audit --json
    """
    with closing(open_store(must_exist=True)) as db:
        zone_name = reports.site_zone_name(db, ownsite.own_site_from_environment(db))
        zone, zone_name = reports.zone_of(zone_name)
        try:
            filters = audit.Filters(action, actor, reports.parse_day(from_, "--from"),
                                    reports.parse_day(to, "--to"))
            rows = audit.entries(db, filters, limit=limit, zone=zone)
        except (audit.AuditError, reports.ReportError) as exc:
            fail(str(exc))
    emit({"time_zone": zone_name, "entries": rows}, as_json,
         lambda p: "\n".join(_audit_line(e, zone) for e in p["entries"]) or "No entries.")
