"""Admin console, "Member cards": a roster upload -> its problems or a preview -> issue (in
the background, with progress) -> download ``cards.csv``, ``cards.pdf`` and the Wallet
passes. The same flow as ``passport cards issue-batch`` (``passport.issuance``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from kiosk import cardruns, clock
from kiosk.db import get_db
from kiosk.security import login_required
from kiosk.site import active_list_or_none, institution_choices, kiosk_site
from passport import audit, issuance, pkpass, programs, roster

bp = Blueprint("membercards", __name__, url_prefix="/admin/cards")

ROSTER_SUFFIXES = (".csv", ".xlsx", ".json")
PAPERS = ("letter", "a4")
PREVIEW_ROWS = 25
SHOWN_ERRORS = 500
_PASS_FIELDS = ("pkpass_cert", "pkpass_key", "pkpass_wwdr")


class FormProblem(ValueError):
    """The upload form is not filled in as needed (the message says what to fix)."""


def _default_base_url() -> str:
    """``BASE_URL`` ($PASSPORT_BASE_URL), else the address this page was reached at."""
    return (current_app.config.get("BASE_URL") or request.url_root).rstrip("/")


@bp.get("")
@login_required("admin")
def index():
    return render_template(
        "admin/cards.html", choices=institution_choices(active_list_or_none()),
        site=kiosk_site(), base_url=_default_base_url(), papers=PAPERS,
        batches=issuance.recent_batches(get_db()), programs=programs.programs(get_db())), 200


def _choices(filename: str) -> cardruns.RunChoices:
    form = request.form
    institution = form.get("institution", "").strip()
    if not institution:
        raise FormProblem("Choose the institution that issues the cards.")
    paper = form.get("paper", "letter")
    if paper not in PAPERS:
        raise FormProblem(f"Paper must be one of {', '.join(PAPERS)}.")
    return cardruns.RunChoices(
        institution_id=institution, filename=filename,
        base_url=form.get("base_url", "").strip() or None, paper=paper,
        revoke_missing=form.get("revoke_missing") == "yes",
        reissue_all=form.get("reissue_all") == "yes",
        allow_expired=form.get("allow_expired") == "yes",
        pass_type_id=form.get("pass_type_id", "").strip() or None,
        team_id=form.get("team_id", "").strip() or None,
        programs=",".join(form.getlist("programs")) or "astc")


def _pass_signer(choices: cardruns.RunChoices) -> pkpass.PassSigner | None:
    """The Wallet pass signer from the form's files, None when the section is left empty."""
    files = {name: request.files.get(name) for name in _PASS_FIELDS}
    given = [name for name, upload in files.items() if upload and upload.filename]
    if not given and not choices.pass_type_id and not choices.team_id:
        return None
    if len(given) < len(files) or not choices.pass_type_id or not choices.team_id:
        raise FormProblem("Wallet passes need the certificate, its key, the WWDR certificate, "
                          "the pass type id and the team id (or leave all five empty).")
    password = request.form.get("pkpass_key_password", "").encode("utf-8") or None
    try:
        return pkpass.load_signer(*(files[name].read() for name in _PASS_FIELDS),
                                  choices.pass_type_id, choices.team_id, password,
                                  now=clock.now())
    except pkpass.PassSetupError as exc:
        raise FormProblem(f"Wallet passes: {exc}.") from None


def _audit_upload(choices: cardruns.RunChoices, details: dict) -> None:
    audit.record(get_db(), g.user.username, "roster.uploaded", choices.institution_id,
                 {"file": choices.filename, **details}, now=clock.now())


@bp.post("/check")
@login_required("admin")
def check():
    """Save the roster and check it: its problems, or what issuing would do."""
    upload = request.files.get("roster")
    name = Path(upload.filename).name if upload and upload.filename else ""
    if not name.lower().endswith(ROSTER_SUFFIXES):
        flash("Choose the roster: a CSV, XLSX or JSON file.", "error")
        return redirect(url_for("membercards.index"))
    try:
        choices = _choices(name)
        signer = _pass_signer(choices)
    except FormProblem as exc:
        flash(str(exc), "error")
        return redirect(url_for("membercards.index"))
    token, path = cardruns.new_run(upload, Path(name).suffix.lower())
    try:
        plan = _plan(choices, path)
    except roster.RosterError as exc:
        shutil.rmtree(path.parent, ignore_errors=True)
        _audit_upload(choices, {"valid": False, "problems": len(exc.errors)})
        return render_template("admin/cards_review.html", name=name, plan=None,
                               errors=exc.errors[:SHOWN_ERRORS], error_count=len(exc.errors),
                               choices=choices, token=None), 422
    except issuance.BatchError as exc:
        shutil.rmtree(path.parent, ignore_errors=True)
        flash(str(exc), "error")
        return redirect(url_for("membercards.index"))
    _audit_upload(choices, {"valid": True, "members": len(plan.roster.members),
                            "sha256": plan.roster.sha256})
    cardruns.save_choices(path.parent, choices)
    if signer is not None:
        cardruns.save_pass_signer(path.parent, signer)
    return render_template("admin/cards_review.html", name=name, plan=plan, errors=None,
                           choices=choices, token=token, preview=plan.to_issue[:PREVIEW_ROWS],
                           with_passes=signer is not None, shown_missing=PREVIEW_ROWS)


def _plan(choices: cardruns.RunChoices, path: Path) -> issuance.BatchPlan:
    db = get_db()
    site = issuance.site_for(db, choices.institution_id, clock.now())
    parsed = issuance.read_roster(db, path.read_bytes(), choices.filename, site,
                                  allow_expired=choices.allow_expired)
    return issuance.plan_batch(db, parsed, site, reissue_all=choices.reissue_all,
                               programs=choices.programs)


@bp.post("/issue")
@login_required("admin")
def issue():
    token = request.form.get("token", "")
    if cardruns.run_dir(token) is None:
        flash("That roster upload has expired; upload it again.", "error")
        return redirect(url_for("membercards.index"))
    try:
        cardruns.start(token, g.user.username, clock.now())
    except cardruns.RunBusy as exc:
        flash(f"Not started: {exc}.", "error")
        return redirect(url_for("membercards.index"))
    return redirect(url_for("membercards.run", token=token))


def _status_or_404(token: str) -> dict:
    found = cardruns.status(token) if cardruns.run_dir(token) is not None else None
    if found is None:
        abort(404, description="No such card run (runs are kept for a day).")
    return found


@bp.get("/runs/<token>")
@login_required("admin")
def run(token: str):
    """A run's progress (the page polls ``run_status``), then its results and downloads."""
    return render_template("admin/cards_run.html", token=token, status=_status_or_404(token),
                           downloads=cardruns.downloads(token))


@bp.get("/runs/<token>/status")
@login_required("admin")
def run_status(token: str):
    found = cardruns.status(token) if cardruns.run_dir(token) is not None else None
    if found is None:
        return jsonify({"error": {"code": "not_found", "message": "no such card run"}}), 404
    return jsonify({**found, "downloads": [
        {"name": name, "url": url_for("membercards.download", token=token, name=name)}
        for name in cardruns.downloads(token)]})


@bp.get("/runs/<token>/files/<name>")
@login_required("admin")
def download(token: str, name: str):
    folder = cardruns.run_dir(token)
    if folder is None or name not in cardruns.downloads(token):
        abort(404)  # unknown run or file, or a run that is not done (nothing recorded)
    return send_file(folder / "out" / name, mimetype=cardruns.DOWNLOADS[name],
                     as_attachment=True, download_name=name)
