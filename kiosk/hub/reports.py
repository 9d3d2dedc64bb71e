"""The hub's reports page: visits across the network by month, home, visited site, reason
or home x visit x month, and the reciprocity balance per site; ``format=csv`` downloads."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from kiosk.hub.db import get_pool
from kiosk.security import login_required
from passport.hub import reports

bp = Blueprint("reports", __name__, url_prefix="/admin")

CHOICES = ("month", "home", "visit", "reason", "balance", "home,visit,month")


@bp.get("/reports")
@login_required("admin")
def page():
    by = request.args.get("by", "month")
    try:
        report = reports.visits(get_pool(), by=by, from_=request.args.get("from"),
                                to=request.args.get("to"))
    except reports.HubReportError as exc:
        return render_template("hub/reports.html", error=str(exc), report=None,
                               choices=CHOICES, by=by), 400
    if request.args.get("format") == "csv":
        return Response(reports.to_csv(report), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{reports.filename(report, "csv")}"'})
    return render_template("hub/reports.html", report=report, header=reports.header(report),
                           cells=reports.cells(report),
                           choices=CHOICES, by=by, error=None)
