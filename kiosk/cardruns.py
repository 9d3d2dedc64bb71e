"""Card runs of the admin console's "Member cards" page: each upload's folder in the instance
folder, and the issuing done in a background thread whose progress the page polls.

A run folder, ``instance/card-runs/<token>/``, holds the roster as uploaded, ``run.json``
(the choices made on the page), the Wallet pass certificate, key and WWDR certificate when
given (the key unencrypted, mode 0600, deleted when the run ends), and ``out/``: the files to
download. Runs older than ``RUN_KEEP_HOURS`` are deleted when the next roster is uploaded:
the folders hold members' names and email addresses. One run issues at a time.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import Flask, current_app
from werkzeug.datastructures import FileStorage

from passport import issuance, keys, pkpass, roster, store

log = logging.getLogger(__name__)

RUNS_DIR = "card-runs"
RUN_KEEP_HOURS = 24
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
PASS_FILES = ("cert.pem", "key.pem", "wwdr.pem")
PASSES_ZIP = "passes.zip"
DOWNLOADS = {issuance.CSV_NAME: "text/csv", issuance.PDF_NAME: "application/pdf",
             PASSES_ZIP: "application/zip"}
_JOBS_KEY = "passport.card_runs"
_lock = threading.Lock()


class RunBusy(RuntimeError):
    """Another card run is issuing right now."""


@dataclass(frozen=True)
class RunChoices:
    """What the admin chose on the upload form (kept as ``run.json``)."""

    institution_id: str
    filename: str
    base_url: str | None
    paper: str
    revoke_missing: bool
    reissue_all: bool
    allow_expired: bool
    pass_type_id: str | None = None
    team_id: str | None = None
    programs: str = "astc"  # what every card of the run qualifies for (cards.issue)


def runs_dir() -> Path:
    return Path(current_app.instance_path) / RUNS_DIR


def run_dir(token: str) -> Path | None:
    """The folder of run ``token``, None for a malformed or unknown token."""
    if not TOKEN_RE.match(token or ""):
        return None
    folder = runs_dir() / token
    return folder if folder.is_dir() else None


def clean_old_runs(now_s: float | None = None) -> None:
    """Delete the run folders older than ``RUN_KEEP_HOURS`` (not one that is issuing)."""
    limit = (now_s or time.time()) - RUN_KEEP_HOURS * 3600
    busy = set(_jobs(current_app._get_current_object()))
    for folder in runs_dir().glob("*"):
        if folder.name not in busy and folder.is_dir() and folder.stat().st_mtime < limit:
            shutil.rmtree(folder, ignore_errors=True)


def new_run(upload: FileStorage, suffix: str) -> tuple[str, Path]:
    """A fresh run folder holding the uploaded roster; returns (token, roster path)."""
    clean_old_runs()
    token = secrets.token_hex(16)
    folder = runs_dir() / token
    folder.mkdir(parents=True)
    path = folder / f"roster{suffix}"
    upload.save(path)
    return token, path


def save_choices(folder: Path, choices: RunChoices) -> None:
    (folder / "run.json").write_text(json.dumps(choices.__dict__), encoding="utf-8")


def load_choices(folder: Path) -> RunChoices:
    return RunChoices(**json.loads((folder / "run.json").read_text(encoding="utf-8")))


def roster_path(folder: Path) -> Path:
    return next(folder.glob("roster.*"))


def save_pass_signer(folder: Path, signer: pkpass.PassSigner) -> None:
    """Keep the checked signer for the run: certificates as PEM, the key unencrypted in a
    file only the server's user reads (deleted when the run ends)."""
    from cryptography.hazmat.primitives import serialization

    target = folder / "pass"
    target.mkdir(mode=0o700)
    pem = serialization.Encoding.PEM
    (target / "cert.pem").write_bytes(signer.certificate.public_bytes(pem))
    (target / "wwdr.pem").write_bytes(signer.wwdr.public_bytes(pem))
    fd = os.open(target / "key.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(signer.private_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _load_pass_signer(folder: Path, choices: RunChoices, now: datetime
                      ) -> pkpass.PassSigner | None:
    target = folder / "pass"
    if not target.is_dir():
        return None
    cert, key, wwdr = ((target / name).read_bytes() for name in PASS_FILES)
    return pkpass.load_signer(cert, key, wwdr, choices.pass_type_id, choices.team_id, now=now)


# --------------------------------------------------------------------------- jobs

def _jobs(app: Flask) -> dict[str, dict]:
    return app.extensions.setdefault(_JOBS_KEY, {})


def status(token: str) -> dict | None:
    """The run's progress: ``{"state": "running"|"done"|"failed", "stage", "done",
    "total", "message", "result"}``; None when it never started."""
    with _lock:
        job = _jobs(current_app._get_current_object()).get(token)
        if job is not None:
            return dict(job)
    folder = run_dir(token)
    if folder is not None and (folder / "status.json").is_file():
        return json.loads((folder / "status.json").read_text(encoding="utf-8"))
    return None


def start(token: str, actor: str, now: datetime) -> None:
    """Issue run ``token``'s cards in a background thread; ``RunBusy`` while another runs."""
    app = current_app._get_current_object()
    with _lock:
        jobs = _jobs(app)
        if any(job["state"] == "running" for job in jobs.values()):
            raise RunBusy("another card run is issuing; wait for it to finish")
        if token in jobs or (runs_dir() / token / "status.json").exists():
            return  # started already (a second click): the page shows its progress
        jobs[token] = {"state": "running", "stage": "starting", "done": 0, "total": 0,
                       "message": None, "result": None}
    thread = threading.Thread(target=_run, args=(app, token, actor, now),
                              name=f"card-run-{token[:8]}", daemon=True)
    thread.start()


def _update(app: Flask, token: str, **fields) -> None:
    with _lock:
        _jobs(app)[token].update(fields)


def _run(app: Flask, token: str, actor: str, now: datetime) -> None:
    folder = Path(app.instance_path) / RUNS_DIR / token
    db = None
    try:
        db = store.connect_migrated(app.config["DB"], app.config["SQLITE_SYNCHRONOUS"])
        result = _issue(db, folder, actor, now,
                        lambda stage, done, total: _update(app, token, stage=stage, done=done,
                                                           total=total))
        _update(app, token, state="done", stage="done", result=result)
    except (roster.RosterError, issuance.BatchError, pkpass.PassSetupError,
            keys.KeyStoreError, OSError) as exc:
        _update(app, token, state="failed", message=str(exc))
    finally:
        if db is not None:
            db.close()
        shutil.rmtree(folder / "pass", ignore_errors=True)
        with _lock:
            job = _jobs(app)[token]
            if job["state"] == "running":  # an unexpected error: the thread's hook logs it
                job.update(state="failed", message="the run stopped on an unexpected error "
                                                   "(see the server log)")
            (folder / "status.json").write_text(json.dumps(job), encoding="utf-8")
            del _jobs(app)[token]


def _issue(db, folder: Path, actor: str, now: datetime, progress) -> dict:
    """The run itself: the roster read and planned again, then issued into ``out/``."""
    choices = load_choices(folder)
    site = issuance.site_for(db, choices.institution_id, now)
    path = roster_path(folder)
    parsed = issuance.read_roster(db, path.read_bytes(), choices.filename, site,
                                  allow_expired=choices.allow_expired)
    plan = issuance.plan_batch(db, parsed, site, reissue_all=choices.reissue_all,
                               programs=choices.programs)
    options = issuance.BatchOptions(base_url=choices.base_url, paper=choices.paper,
                                    revoke_missing=choices.revoke_missing,
                                    pass_signer=_load_pass_signer(folder, choices, now))
    result = issuance.issue_batch(db, plan, folder / "out", options, actor=actor, now=now,
                                  progress=progress)
    if result.files["pkpass"]:
        _zip_passes(Path(result.files["pkpass"]), folder / "out" / PASSES_ZIP)
    return result.to_json()


def _zip_passes(passes: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:  # passes are ZIPs
        for path in sorted(passes.iterdir()):
            archive.write(path, f"pkpass/{path.name}")


def downloads(token: str) -> list[str]:
    """The files of a finished run that can be downloaded, in ``DOWNLOADS`` order; none
    unless the run is done (a failed run's files were never recorded as issued)."""
    folder = run_dir(token)
    if folder is None or (status(token) or {}).get("state") != "done":
        return []
    return [name for name in DOWNLOADS if (folder / "out" / name).is_file()]
