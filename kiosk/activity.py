"""Admin console: the Activity page, the audit log (``passport.audit``) newest first, the
site's local time to the minute, filtered by action, actor and local days, a page at a time,
and as CSV."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from kiosk.db import get_db
from kiosk.security import login_required
from kiosk.site import site_zone_name
from passport import audit, reports

bp = Blueprint("activity", __name__, url_prefix="/admin/activity")

PAGE_SIZE = 50
FILTERS = ("action", "actor", "from", "to")


def _filters(args) -> audit.Filters:
    """The query's filters; AuditError or ReportError (a bad date) name the bad one."""
    return audit.Filters(action=args.get("action") or None, actor=args.get("actor") or None,
                         from_day=reports.parse_day(args.get("from"), "from"),
                         to_day=reports.parse_day(args.get("to"), "to"))


def _page(args) -> int:
    text = args.get("page", "1")
    return int(text) if text.isdigit() and int(text) >= 1 else 1


@bp.get("")
@login_required("admin")
def index():
    db = get_db()
    zone, zone_name = reports.zone_of(site_zone_name())
    args = {name: request.args.get(name, "") for name in FILTERS}
    page, entries, total, error = _page(request.args), [], 0, None
    try:
        filters = _filters(request.args)
        total = audit.count(db, filters, zone=zone)
        entries = audit.entries(db, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                                zone=zone)
    except (audit.AuditError, reports.ReportError) as exc:
        error = str(exc)
    for entry in entries:
        entry["details_text"] = audit.details_text(entry["details"])
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template(
        "admin/activity.html", entries=entries, total=total, page=page, pages=pages,
        args=args, error=error, facets=audit.facets(db), actions=audit.ACTIONS,
        zone_name=zone_name,
    ), 200 if error is None else 400


@bp.get("/activity.csv")
@login_required("admin")
def export():
    """Every entry matching the filters (no paging), as CSV."""
    db = get_db()
    zone, _ = reports.zone_of(site_zone_name())
    try:
        rows = audit.entries(db, _filters(request.args), limit=None, zone=zone)
    except (audit.AuditError, reports.ReportError) as exc:
        return Response(f"{exc}\n", status=400, content_type="text/plain; charset=utf-8")
    response = Response(audit.to_csv(rows, zone), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="activity.csv"'
    return response
