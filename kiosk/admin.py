"""Admin console: the kiosk's site, participant lists per program (upload → dry-run diff →
publish; rollback after reviewing its diff), staff users and their sign-in locks, API tokens.
The list pages name their program (``program``: a form field or a query argument; default
the default program); the programs page is ``kiosk.programs``."""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.utils import secure_filename

from kiosk.auth import login_throttle
from kiosk.db import get_db
from kiosk.security import login_required
from kiosk.site import active_list_or_none, institution_choices, kiosk_site, set_kiosk_site
from passport import audit, auth, institutions, ownsite, programs
from passport.rules import DEFAULT_PROFILE_NAME

bp = Blueprint("admin", __name__, url_prefix="/admin")

UPLOAD_SUFFIXES = (".csv", ".xlsx", ".json")
UPLOAD_TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
UPLOAD_FILE_STEM = "upload"  # the saved upload's fixed name; its suffix picks the reader
UPLOAD_NAME_FILE = "name.txt"  # the uploaded file's own name, to show and record


@contextlib.contextmanager
def _flashing(success: str, errors: type[Exception] | tuple[type[Exception], ...]):
    """Flash ``success`` when the block succeeds, the error's text when it raises ``errors``."""
    try:
        yield
    except errors as exc:
        flash(str(exc), "error")
        return
    flash(success, "info")


def _uploads_dir() -> Path:
    return Path(current_app.instance_path) / "uploads"


def _program(value: str | None) -> str | None:
    """The program a list form or link names (none: the default program); None, after
    flashing why, when there is no such program."""
    name = (value or "").strip() or DEFAULT_PROFILE_NAME
    try:
        institutions.get_profile(get_db(), name)
    except institutions.UnknownProfile as exc:
        flash(str(exc), "error")
        return None
    return name


def _named(program: str) -> str:
    """``narm `` before "list" in a message; nothing for the default program."""
    return "" if program == DEFAULT_PROFILE_NAME else f"{program} "


def _program_args(program: str | None) -> dict:
    """The query arguments of a page about ``program``'s list (none for the default one)."""
    return {} if program in (None, DEFAULT_PROFILE_NAME) else {"program": program}


def _lists_page(program: str | None = None):
    """Back to the admin page (its lists section showing ``program``)."""
    return redirect(url_for("admin.index", **_program_args(program)))


@bp.get("")
@login_required("admin")
def index():
    db = get_db()
    active = active_list_or_none()
    program = _program(request.args.get("program")) or DEFAULT_PROFILE_NAME
    throttle, users = login_throttle(), auth.list_users(db)
    locks = throttle.locked_users()  # by case-folded name; unknown names are not shown
    return render_template(
        "admin/index.html",
        site=kiosk_site(),
        active=active,
        choices=institution_choices(active),
        program=programs.to_json(programs.get_program(db, program), db),
        programs=programs.catalogue(db),
        program_args=_program_args(program),
        versions=institutions.list_versions(db, program),
        users=users,
        locked_users={u.username: locks[u.username.casefold()] for u in users
                      if u.username.casefold() in locks},
        locked_addresses=throttle.locked_addresses(),
        min_password_chars=auth.MIN_PASSWORD_CHARS,
        tokens=auth.list_tokens(db),
        scopes=auth.SCOPES,
    )


@bp.post("/site")
@login_required("admin")
def set_site():
    site = request.form.get("site", "").strip()
    active = active_list_or_none()
    if site and (active is None or site not in active.by_id):
        flash(f"{site!r} is not on the active participant list.", "error")
    else:
        set_kiosk_site(site or None, actor=g.user.username)
        flash(f"This kiosk's site is now {site}." if site else "Kiosk site cleared.", "info")
    return redirect(url_for("admin.index"))


@bp.post("/lists/upload")
@login_required("admin")
def upload_list():
    """Save the upload and dry-run it: the admin reviews the diff before publishing."""
    upload = request.files.get("file")
    name = secure_filename(upload.filename) if upload and upload.filename else ""
    program = _program(request.form.get("program"))
    if program is None:
        return _lists_page()
    if not name or not name.lower().endswith(UPLOAD_SUFFIXES):
        flash("Choose a CSV, XLSX or JSON participant list.", "error")
        return _lists_page(program)
    token = secrets.token_hex(16)
    folder = _uploads_dir() / token
    folder.mkdir(parents=True)
    # The upload's own name is only shown and recorded, never a path (docs/reliability.md).
    path = folder / f"{UPLOAD_FILE_STEM}{Path(name).suffix.lower()}"
    upload.save(path)
    (folder / UPLOAD_NAME_FILE).write_text(name, encoding="utf-8")
    try:
        result = institutions.import_bytes(get_db(), path.read_bytes(), name, dry_run=True,
                                           actor=g.user.username, profile=program,
                                           own_site=kiosk_site())
    except institutions.ListValidationError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return render_template("admin/review.html", name=name, errors=exc.errors,
                               result=None, token=None, program=program), 422
    return render_template("admin/review.html", name=name, errors=None, result=result,
                           token=token, program=program)


def _confirmed_site_removal() -> bool:
    """The review pages' checkbox: publish or activate a list without this kiosk's site."""
    return request.form.get("allow_site_removal") == "yes"


@bp.post("/lists/publish")
@login_required("admin")
def publish_list():
    token = request.form.get("token", "")
    folder = _uploads_dir() / token
    program = _program(request.form.get("program"))
    if program is None:
        return _lists_page()
    if not UPLOAD_TOKEN_RE.match(token) or not folder.is_dir():
        flash("That upload has expired; upload the file again.", "error")
        return _lists_page(program)
    path, keep_upload = next(folder.glob(f"{UPLOAD_FILE_STEM}.*")), False
    name = (folder / UPLOAD_NAME_FILE).read_text(encoding="utf-8")
    try:
        result = institutions.import_bytes(get_db(), path.read_bytes(), name, dry_run=False,
                                           actor=g.user.username, profile=program,
                                           own_site=kiosk_site(),
                                           allow_site_removal=_confirmed_site_removal())
    except ownsite.OwnSiteRemoved as exc:
        # Nothing published; the upload stays for the admin to confirm on the same review.
        keep_upload = True
        flash(f"Not published: {exc}.", "error")
        review = institutions.import_bytes(get_db(), path.read_bytes(), name, dry_run=True,
                                           actor=g.user.username, profile=program,
                                           own_site=kiosk_site())
        return render_template("admin/review.html", name=name, errors=None,
                               result=review, token=token, program=program), 409
    except institutions.ListValidationError as exc:
        flash(f"Not published: {exc}", "error")
    else:
        flash(f"Published {_named(program)}list version {result.version}.", "info")
    finally:
        if not keep_upload:
            shutil.rmtree(folder, ignore_errors=True)
    return _lists_page(program)


@bp.get("/lists/<int:version>/rollback")
@login_required("admin")
def review_rollback(version: int):
    """What activating ``version`` changes, against the active list, before the admin
    confirms it (and, when the version leaves out this kiosk's site, says so)."""
    program = _program(request.args.get("program"))
    if program is None:
        return _lists_page()
    try:
        review = institutions.review_rollback(get_db(), version, own_site=kiosk_site(),
                                              profile=program)
    except institutions.UnknownListVersion as exc:
        flash(str(exc), "error")
        return _lists_page(program)
    row = next(v for v in institutions.list_versions(get_db(), program)
               if v["version"] == version)
    return render_template("admin/rollback.html", review=review, version_row=row,
                           program=program)


@bp.post("/lists/<int:version>/rollback")
@login_required("admin")
def rollback_list(version: int):
    program = _program(request.form.get("program"))
    if program is None:
        return _lists_page()
    review_page = url_for("admin.review_rollback", version=version, **_program_args(program))
    if request.form.get("confirm") != "yes":  # only the review page's button confirms
        return redirect(review_page)
    try:
        institutions.rollback(get_db(), version, actor=g.user.username, profile=program,
                              own_site=kiosk_site(),
                              allow_site_removal=_confirmed_site_removal())
    except ownsite.OwnSiteRemoved as exc:
        flash(f"Not activated: {exc}.", "error")
        return redirect(review_page)
    except institutions.UnknownListVersion as exc:
        flash(str(exc), "error")
    else:
        what = "List" if program == DEFAULT_PROFILE_NAME else f"The {program} list"
        flash(f"{what} version {version} is active again.", "info")
    return _lists_page(program)


@bp.post("/users")
@login_required("admin")
def create_user():
    username = request.form.get("username", "").strip()
    with _flashing(f"User {username} created.", auth.AuthError):
        auth.create_user(get_db(), username, request.form.get("password", ""),
                         request.form.get("role", "desk"), actor=g.user.username)
    return redirect(url_for("admin.index"))


@bp.post("/users/<username>/<any(disable, enable):action>")
@login_required("admin")
def toggle_user(username: str, action: str):
    if username == g.user.username and action == "disable":
        abort(400, description="You cannot disable yourself.")
    with _flashing(f"User {username} {action}d.", auth.AuthError):
        auth.set_disabled(get_db(), username, action == "disable", actor=g.user.username)
    return redirect(url_for("admin.index"))


@bp.post("/users/password")
@login_required("admin")
def reset_password():
    """Set another user's password (they forgot it). It ends their signed-in sessions and
    lifts a sign-in lock on their username; admins change their own on /account."""
    username = request.form.get("username", "").strip()
    password = request.form.get("new_password", "")
    if username == g.user.username:
        flash("Change your own password on the Account page.", "error")
    elif password != request.form.get("new_password_repeat", ""):
        flash("The two new passwords do not match.", "error")
    else:
        with _flashing(f"Password of {username} reset; their sessions are signed out.",
                       auth.AuthError):
            auth.set_password(get_db(), username, password, actor=g.user.username)
            login_throttle().unlock_user(username)
    return redirect(url_for("admin.index"))


@bp.post("/users/<username>/unlock")
@login_required("admin")
def unlock_user(username: str):
    """Lift the sign-in locks on a user name (from every address) before they run out."""
    if login_throttle().unlock_user(username):
        audit.record(get_db(), g.user.username, "signin.unlocked", username)
        flash(f"Sign-in lock on {username} lifted.", "info")
    else:
        flash(f"{username} is not locked.", "info")
    return redirect(url_for("admin.index", _anchor="users"))


@bp.post("/addresses/unlock")
@login_required("admin")
def unlock_address():
    """Lift the per-address ceiling's lock on one client address."""
    address = request.form.get("address", "").strip()
    if login_throttle().unlock_address(address):
        audit.record(get_db(), g.user.username, "signin.unlocked", address,
                     {"address": address})
        flash(f"Sign-in lock on address {address} lifted.", "info")
    else:
        flash(f"Address {address or '(none)'} is not locked.", "info")
    return redirect(url_for("admin.index", _anchor="users"))


@bp.post("/tokens")
@login_required("admin")
def create_token():
    """A token with the scopes ticked (the form ticks all of them to start with; none
    ticked is refused rather than read as all)."""
    scopes = request.form.getlist("scope")
    try:
        if not scopes:
            raise auth.AuthError("tick at least one scope for the token")
        _, token = auth.create_token(get_db(), request.form.get("name", ""), scopes,
                                     actor=g.user.username)
    except auth.AuthError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.index", _anchor="tokens"))
    # Shown once, on this response only; the store keeps its hash.
    return render_template("admin/token.html", token=token, name=request.form.get("name"),
                           scopes=auth.check_scopes(scopes))


@bp.post("/tokens/<int:token_id>/revoke")
@login_required("admin")
def revoke_token(token_id: int):
    with _flashing(f"Token {token_id} revoked.", auth.AuthError):
        auth.revoke_token(get_db(), token_id, actor=g.user.username)
    return redirect(url_for("admin.index", _anchor="tokens"))
