"""Admin console: the crosswalk page (``passport crosswalk`` in the browser): the stored pairs
of two programs' entries with both names, cities, score and distance; confirm and reject
buttons; a "suggest" button per pair of programs with a list."""

from __future__ import annotations

from itertools import combinations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from kiosk.db import get_db
from kiosk.security import login_required
from passport import crosswalk, programs
from passport.institutions import load_actives

bp = Blueprint("crosswalk", __name__, url_prefix="/admin/crosswalk")

STATUS_FILTERS = ("suggested", "confirmed", "rejected", "all")


@bp.get("")
@login_required("admin")
def index():
    db = get_db()
    status = request.args.get("status", "suggested")
    program = request.args.get("program") or None
    status_arg = None if status == "all" else status
    try:
        pairs = crosswalk.pairs(db, program=program, status=status_arg)
    except crosswalk.CrosswalkError as exc:
        flash(str(exc), "error")
        pairs, program, status = [], None, "suggested"
    listed = [active.profile.name for active in load_actives(db)]
    return render_template(
        "admin/crosswalk.html", pairs=pairs, status=status, program=program,
        statuses=STATUS_FILTERS, programs=programs.programs(db),
        program_pairs=list(combinations(listed, 2)),
        city_level=any(p["a"]["city_level_point"] or p["b"]["city_level_point"]
                       for p in pairs))


@bp.post("/suggest")
@login_required("admin")
def suggest():
    first, second = request.form.get("from", ""), request.form.get("to", "")
    try:
        found = crosswalk.suggest(get_db(), first, second, actor=g.user.username)
    except crosswalk.CrosswalkError as exc:
        flash(str(exc), "error")
        return redirect(url_for("crosswalk.index"))
    flash(f"{len(found)} pair(s) of {first} and {second} suggested.", "info")
    return redirect(url_for("crosswalk.index", status="suggested"))


@bp.post("/decide")
@login_required("admin")
def decide():
    """Confirm or reject one pair (``a`` and ``b`` as PROGRAM:ID), back to the same view."""
    form = request.form
    action = {"confirm": crosswalk.confirm, "reject": crosswalk.reject}.get(
        form.get("decision", ""))
    back = url_for("crosswalk.index", status=form.get("status") or "suggested",
                   program=form.get("program") or None)
    if action is None:
        flash("Choose confirm or reject.", "error")
        return redirect(back)
    try:
        pair = action(get_db(), crosswalk.parse_entry(form.get("a", "")),
                      crosswalk.parse_entry(form.get("b", "")), g.user.username)
    except crosswalk.CrosswalkError as exc:
        flash(str(exc), "error")
        return redirect(back)
    flash(f"{pair['a']['program']}:{pair['a']['id']} and {pair['b']['program']}:"
          f"{pair['b']['id']}: {pair['status']}.", "info")
    return redirect(back)
