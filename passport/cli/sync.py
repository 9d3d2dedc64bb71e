"""CLI commands of a site in a program network: ``passport sync``, ``passport bundle
export|import|status`` and ``passport hub enrol`` (the kiosk's hub command group adds it: the
domain does not import the kiosk). The work is ``passport.sync``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from passport import audit, bundle, ownsite, sync
from passport.cli import main
from passport.cli.common import emit, fail, json_option, open_store


def _sync_text(result: dict) -> str:
    lines = [f"Bundle {result['bundle_sequence']} "
             f"({'applied now' if result['applied'] else 'unchanged'}), "
             f"list version {result['list_version']}; sent {result['checkins_sent']} "
             f"check-ins, {result['keys_sent']} keys, {result['revocations_sent']} "
             f"revocations; {result['checkins_pending']} check-ins waiting."]
    lines += [f"  {e['step']}: {e['code']}: {e['message']}" for e in result["errors"]]
    return "\n".join(lines)


@main.command("sync")
@click.option("--timeout", default=sync.TIMEOUT_SECONDS, show_default=True,
              type=click.FloatRange(0.1, 600), help="Seconds to wait for each hub request.")
@json_option
def sync_command(timeout: float, as_json: bool) -> None:
    """Sync with the hub this site enrolled with: the signed bundle down (verified, applied
    in one transaction; an older or equal sequence is refused), then this site's new issuer
    keys and card revocations and its check-ins (no names) up.

    Exits non-zero with the first failed step (the other steps still ran).

    \b
    Example:
      passport sync --json
    """
    db = open_store()
    try:
        result = sync.sync(db, timeout=timeout)
    except sync.SyncError as exc:
        fail(str(exc))
    emit(result, as_json, _sync_text)
    if result["errors"]:
        first = result["errors"][0]
        more = f" (and {len(result['errors']) - 1} more)" if len(result["errors"]) > 1 else ""
        fail(f"{first['step']}: {first['code']}: {first['message']}{more}")


@main.group("bundle")
def bundle_group() -> None:
    """The hub's signed bundle on this site: export it to a file, import one (the offline
    path: a USB stick carries it), or show its age."""


@bundle_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def bundle_export(file: Path, as_json: bool) -> None:
    """Write the last applied bundle to FILE, byte for byte as the hub signed it.

    Example: passport bundle export /media/usb/bundle.json
    """
    db = open_store(must_exist=True)
    try:
        data = sync.export_bundle(db)
    except sync.SyncError as exc:
        fail(str(exc))
    if not file.parent.is_dir():
        fail(f"the folder does not exist: {file.parent}")
    file.write_bytes(data)
    last = sync.bundle_status(db)
    emit({"file": str(file), "bytes": len(data), "bundle_sequence": last["sequence"]},
         as_json, lambda p: f"Wrote bundle {p['bundle_sequence']} ({p['bytes']} bytes) to "
                            f"{p['file']}.")


@bundle_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--hub-key", default=None,
              help="Pin this hub public key first (a site that never reached the hub).")
@json_option
def bundle_import(file: Path, hub_key: str | None, as_json: bool) -> None:
    """Verify a bundle file against the pinned hub keys and apply it, exactly as a download:
    a tampered, unknown-key, expired or not newer bundle is refused and changes nothing.

    Example: passport bundle import /media/usb/bundle.json --json
    """
    if not file.is_file():
        fail(f"no such file: {file}")
    db = open_store()
    try:
        result = sync.import_bundle(db, file.read_bytes(), hub_key=hub_key,
                                    actor=audit.cli_actor())
    except bundle.BundleError as exc:
        fail(str(exc))
    except sync.SyncError as exc:
        fail(str(exc))
    emit(result, as_json, lambda r: f"Applied bundle {r['bundle_sequence']}: " + ", ".join(
        f"{p} list {v['list_version']} ({'new' if v['changed'] else 'unchanged'})"
        for p, v in r["lists"].items()))


@bundle_group.command("status")
@json_option
def bundle_status(as_json: bool) -> None:
    """How old this site's bundle is; warns past $PASSPORT_BUNDLE_WARN_HOURS (default 48).

    Example: passport bundle status --json
    """
    status = sync.bundle_status(open_store(), warn_hours=warn_hours())
    emit(status, as_json, lambda s: "No bundle applied yet." if s["sequence"] is None else
         f"Bundle {s['sequence']}, issued {s['issued_at']} ({s['age_hours']} h ago)"
         + (" - older than the warning age" if s["stale"] else ""))


def warn_hours() -> float:
    """$PASSPORT_BUNDLE_WARN_HOURS, or the default; a bad value fails in one line."""
    text = os.environ.get("PASSPORT_BUNDLE_WARN_HOURS")
    try:
        return float(text) if text else sync.BUNDLE_WARN_HOURS
    except ValueError:
        fail(f"$PASSPORT_BUNDLE_WARN_HOURS is not a number of hours: {text!r}")


@click.command("enrol")
@click.option("--url", required=True, help="The hub's base URL, e.g. https://hub.example.org")
@click.option("--hub-key", required=True,
              help="The hub's public key (base64), as its operator gave it to you.")
@click.option("--token", required=True, help="The one-time enrolment token for this site.")
@click.option("--site", default=None,
              help="This site's institution id (default: the kiosk's own site).")
@json_option
def enrol(url: str, hub_key: str, token: str, site: str | None, as_json: bool) -> None:
    """Enrol this site with a hub: pins the hub key, trades the one-time token for the
    site's credential (kept sealed under the instance secret).

    \b
    Example:
      passport hub enrol --url https://hub.example.org --hub-key BASE64 --token TOKEN
    """
    db = open_store()
    site = site or ownsite.own_site_from_environment(db)
    if not site:
        fail("this site's institution id is not set: give --site ID or set $PASSPORT_SITE")
    try:
        result = sync.enrol(db, url=url, hub_key=hub_key, token=token, site=site,
                            actor=audit.cli_actor())
    except (sync.SyncError, ValueError) as exc:
        fail(str(exc))
    emit(result, as_json, lambda r: f"Enrolled {r['site']} with {r['hub_url']} "
                                    f"(hub key {r['key_id']} pinned).")
