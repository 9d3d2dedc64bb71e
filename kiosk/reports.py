"""Admin console: the visit reports page (a server-rendered SVG chart, the table, CSV and
XLSX downloads). The counting is ``passport.reports``; days are the kiosk site's local days
(UTC without a site or zone, and the page says so)."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from kiosk.db import get_db
from kiosk.security import login_required
from kiosk.site import kiosk_site, site_zone_name
from passport import reports

bp = Blueprint("reports", __name__, url_prefix="/admin/reports")

CHART_MAX_BARS = 25  # keyed reports (home, visit, reason) chart their busiest keys
CHART_WIDTH, CHART_LABEL_WIDTH, CHART_VALUE_WIDTH = 760, 230, 60
BAR_PITCH, BAR_HEIGHT, CHART_TOP = 24, 16, 34
LABEL_CHARS = 32


def _label(key: str) -> str:
    return key if len(key) <= LABEL_CHARS else key[:LABEL_CHARS - 1] + "…"


def bar_chart(report: dict) -> dict:
    """The chart's geometry: one horizontal bar per key, parties admitted (then denied)
    stacked, scaled to the largest; ``bars`` hold x/width/y in SVG user units."""
    rows = report["rows"]
    keyed = report["by"] in ("home", "visit", "reason")
    shown = rows[:CHART_MAX_BARS] if keyed else rows
    largest = max([row["admitted"] + row["denied"] for row in shown] + [1])
    span = CHART_WIDTH - CHART_LABEL_WIDTH - CHART_VALUE_WIDTH
    bars = []
    for index, row in enumerate(shown):
        admitted = span * row["admitted"] / largest
        denied = span * row["denied"] / largest
        bars.append({
            "key": row["key"], "label": _label(row["key"]),
            "y": CHART_TOP + index * BAR_PITCH, "admitted": row["admitted"],
            "denied": row["denied"], "admitted_width": round(admitted, 1),
            "denied_x": round(CHART_LABEL_WIDTH + admitted, 1),
            "denied_width": round(denied, 1),
            "value_x": round(CHART_LABEL_WIDTH + admitted + denied + 6, 1),
        })
    return {"bars": bars, "width": CHART_WIDTH, "label_width": CHART_LABEL_WIDTH,
            "bar_height": BAR_HEIGHT, "height": CHART_TOP + len(shown) * BAR_PITCH + 8,
            "hidden": len(rows) - len(shown), "largest": largest}


def _report(args) -> tuple[dict | None, str | None]:
    """The report the query asks for, or (None, the error's message)."""
    try:
        report = reports.visits(get_db(), from_=args.get("from"), to=args.get("to"),
                                by=args.get("by") or "month",
                                tz_name=site_zone_name())
    except reports.ReportError as exc:
        return None, str(exc)
    return report, None


@bp.get("")
@login_required("admin")
def index():
    report, error = _report(request.args)
    return render_template(
        "admin/reports.html", report=report, error=error, bys=reports.BYS,
        headings=reports.HEADINGS, columns=reports.COLUMNS, site=kiosk_site(),
        chart=bar_chart(report) if report else None,
        describe=reports.describe(report) if report else None,
        args={name: request.args.get(name, "") for name in ("from", "to", "by")},
    ), 200 if error is None else 400


@bp.get("/visits.<any(csv, xlsx):fmt>")
@login_required("admin")
def download(fmt: str):
    """The report on the page as a CSV or XLSX file (formula-like cells neutralised)."""
    report, error = _report(request.args)
    if report is None:
        return Response(error + "\n", status=400, content_type="text/plain; charset=utf-8")
    response = Response(reports.render(report, fmt), content_type=reports.MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{reports.filename(report, fmt)}"')
    return response
