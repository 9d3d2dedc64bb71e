"""The hub's admin pages: the programs' lists (upload, review, publish, rollback), the
enrolled sites (add one: its one-time token, shown once) and the hub's keys. Thin views
over ``passport.hub``; every form carries the CSRF token."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from kiosk.hub.db import get_pool
from kiosk.security import login_required
from passport.hub import HubError, lists, sites
from passport.hub.signing import current_keys
from passport.importer import ListValidationError

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("")
@login_required("admin")
def index():
    pool = get_pool()
    programs = lists.programs(pool)
    versions = {p["name"]: lists.versions(pool, p["name"])[:10] for p in programs
                if p["active_list_version"] is not None}
    return render_template("hub/index.html", programs=programs, versions=versions,
                           sites=sites.list_sites(pool), hub_keys=current_keys(pool))


@bp.post("/lists")
@login_required("admin")
def upload():
    upload_ = request.files.get("file")
    program = request.form.get("program", "")
    if upload_ is None or not upload_.filename:
        flash("Choose a list file (CSV, XLSX or JSON) to upload.", "error")
        return redirect(url_for("admin.index"))
    try:
        draft_id, _ = lists.save_draft(get_pool(), upload_.read(), upload_.filename,
                                       program=program, actor=g.user.username)
    except ListValidationError as exc:
        return render_template("hub/rejected.html", errors=exc.errors, program=program), 400
    except HubError as exc:
        flash(f"Not uploaded: {exc}", "error")
        return redirect(url_for("admin.index"))
    return redirect(url_for("admin.review", draft_id=draft_id))


@bp.get("/lists/drafts/<int:draft_id>")
@login_required("admin")
def review(draft_id: int):
    try:
        result = lists.review_draft(get_pool(), draft_id)
    except HubError as exc:
        abort(404, description=str(exc))
    return render_template("hub/review.html", draft_id=draft_id, result=result)


@bp.post("/lists/drafts/<int:draft_id>/publish")
@login_required("admin")
def publish(draft_id: int):
    try:
        confirmed = bool(request.form.get("allow_site_removal"))
        result = lists.publish_draft(get_pool(), draft_id, g.user.username,
                                     allow_site_removal=confirmed)
    except lists.SitesRemoved as exc:
        flash(str(exc), "error")  # back to the review, where the box confirms it
        return redirect(url_for("admin.review", draft_id=draft_id))
    except HubError as exc:
        abort(404, description=str(exc))
    flash(f"Published {result['program']} list version {result['version']} "
          f"({result['row_count']} institutions); sites get it with their next sync.", "info")
    return redirect(url_for("admin.index"))


@bp.post("/lists/<program>/rollback")
@login_required("admin")
def rollback(program: str):
    try:
        result = lists.rollback(get_pool(), int(request.form.get("version", "")), program,
                                g.user.username)
    except (HubError, ValueError) as exc:
        flash(f"Not rolled back: {exc}", "error")
        return redirect(url_for("admin.index"))
    flash(f"{program}: version {result['active']} is active again (was "
          f"{result['previous']}).", "info")
    return redirect(url_for("admin.index"))


@bp.post("/sites")
@login_required("admin")
def add_site():
    try:
        added = sites.add_site(get_pool(), request.form.get("site", "").strip(),
                               actor=g.user.username)
    except HubError as exc:
        flash(f"Not added: {exc}", "error")
        return redirect(url_for("admin.index"))
    return render_template("hub/site_token.html", added=added)
