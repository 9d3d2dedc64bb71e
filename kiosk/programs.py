"""Admin console: the programs page (``passport programs`` in the browser): every program
with its rules and active list, and the form that adds one (``passport programs add``)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from kiosk.db import get_db
from kiosk.security import login_required
from passport import programs
from passport.rules import BENEFITS

bp = Blueprint("programs", __name__, url_prefix="/admin/programs")


@bp.get("")
@login_required("admin")
def index():
    return render_template("admin/programs.html", programs=programs.catalogue(get_db()),
                           benefits=BENEFITS)


@bp.post("")
@login_required("admin")
def add():
    """Add a program from the form; its list is then uploaded on the admin page."""
    form = request.form
    program_id = form.get("id", "").strip()
    try:
        programs.add_program(
            get_db(), program_id, form.get("name", ""),
            radius_miles=form.get("radius_miles", "").strip(),
            residence_rule=form.get("residence_rule") == "yes",
            per_site=form.get("per_site") == "yes",
            benefit=form.get("benefit", "general_admission"),
            discount_percent=form.get("discount_percent", "").strip() or None,
            card_mark=form.get("card_mark"), min_membership=form.get("min_membership"),
            actor=g.user.username)
    except programs.ProgramError as exc:
        flash(f"Program not added: {exc}", "error")
        return render_template("admin/programs.html", programs=programs.catalogue(get_db()),
                               benefits=BENEFITS, form=form), 422
    flash(f"Program {program_id} added; upload its list on the Admin page.", "info")
    return redirect(url_for("programs.index"))
