"""Admin console: the program network page. This site's enrolment with its hub, how old its
bundle is, the check-ins waiting to go up, and the same actions as ``passport hub enrol``,
``passport sync`` and ``passport bundle export|import`` (``passport.sync``)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from kiosk.db import get_db
from kiosk.hubsync import bundle_info
from kiosk.security import login_required
from kiosk.site import kiosk_site
from passport import bundle, store, sync

bp = Blueprint("network", __name__, url_prefix="/admin/network")

MAX_BUNDLE_BYTES = 64 * 1024 * 1024


@bp.get("")
@login_required("admin")
def index():
    db = get_db()
    return render_template(
        "admin/network.html", enrolment=sync.enrolment(db), bundle=bundle_info(),
        pending=sync.pending_checkins(db), pinned=sorted(store.pinned_hub_keys(db)),
        site=kiosk_site())


@bp.post("/enrol")
@login_required("admin")
def enrol():
    form = request.form
    site = kiosk_site()
    if not site:
        flash("Set this kiosk's site in Admin before enrolling it with a hub.", "error")
        return redirect(url_for("network.index"))
    try:
        result = sync.enrol(get_db(), url=form.get("url", ""), hub_key=form.get("hub_key", ""),
                            token=form.get("token", ""), site=site, actor=g.user.username)
    except (sync.SyncError, ValueError) as exc:
        flash(str(exc), "error")
    else:
        flash(f"Enrolled {result['site']} with {result['hub_url']} "
              f"(hub key {result['key_id']} pinned).", "info")
    return redirect(url_for("network.index"))


@bp.post("/sync")
@login_required("admin")
def sync_now():
    try:
        result = sync.sync(get_db())
    except sync.SyncError as exc:
        flash(str(exc), "error")
        return redirect(url_for("network.index"))
    flash(f"Bundle {result['bundle_sequence']} "
          f"({'applied now' if result['applied'] else 'unchanged'}); sent "
          f"{result['checkins_sent']} check-ins, {result['keys_sent']} keys, "
          f"{result['revocations_sent']} revocations.", "info")
    for error in result["errors"]:
        flash(f"{error['step']}: {error['code']}: {error['message']}", "error")
    return redirect(url_for("network.index"))


@bp.post("/bundle")
@login_required("admin")
def import_bundle():
    """A bundle file carried by hand, verified exactly like a download."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose a bundle file (passport bundle export writes one).", "error")
        return redirect(url_for("network.index"))
    data = upload.read(MAX_BUNDLE_BYTES + 1)
    try:
        if len(data) > MAX_BUNDLE_BYTES:
            raise sync.SyncError("the file is larger than a bundle can be")
        result = sync.import_bundle(get_db(), data, hub_key=request.form.get("hub_key") or None,
                                    actor=g.user.username)
    except (bundle.BundleError, sync.SyncError) as exc:
        flash(str(exc), "error")
    else:
        flash(f"Applied bundle {result['bundle_sequence']}.", "info")
    return redirect(url_for("network.index"))


@bp.get("/bundle.json")
@login_required("admin")
def export_bundle():
    """The last applied bundle, byte for byte as the hub signed it."""
    try:
        data = sync.export_bundle(get_db())
    except sync.SyncError as exc:
        flash(str(exc), "error")
        return redirect(url_for("network.index"))
    current_app.logger.info("bundle exported by %s", g.user.username)
    response = Response(data, content_type="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="passport-bundle.json"'
    return response
