"""CLI command: cards for a whole membership (``passport cards issue-batch``)."""

from __future__ import annotations

import sys
from contextlib import closing
from pathlib import Path
from typing import NoReturn

import click

from passport import audit, issuance, pkpass, roster
from passport.cli.cards import cards_group
from passport.cli.common import emit, fail, json_option, open_store

BASE_URL_ENV_VAR = "PASSPORT_BASE_URL"
_PASS_OPTIONS = ("pkpass_cert", "pkpass_key", "pkpass_wwdr", "pass_type_id", "team_id")


class _Bars:
    """click progress bars on stderr, one per stage of the run (none with --json)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.stage, self.bar, self.done = enabled, None, None, 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage != self.stage:
            self.close()
            self.stage, self.done = stage, 0
            self.bar = click.progressbar(length=total, label=f"{stage:14}", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _pass_signer(options: dict, password: str | None) -> pkpass.PassSigner | None:
    given = [name for name in _PASS_OPTIONS if options[name]]
    if not given:
        return None
    if len(given) != len(_PASS_OPTIONS):
        missing = [f"--{n.replace('_', '-')}" for n in _PASS_OPTIONS if not options[n]]
        fail(f"Wallet passes need all five pass options; missing {', '.join(missing)}")
    try:
        return pkpass.load_signer(
            options["pkpass_cert"].read_bytes(), options["pkpass_key"].read_bytes(),
            options["pkpass_wwdr"].read_bytes(), options["pass_type_id"], options["team_id"],
            password.encode("utf-8") if password else None)
    except pkpass.PassSetupError as exc:
        fail(str(exc))


def _refused(exc: roster.RosterError, name: str, as_json: bool) -> NoReturn:
    if as_json:
        emit({"ok": False, "errors": [e._asdict() for e in exc.errors]}, True)
    else:
        for error in exc.errors:
            click.echo(str(error))
    fail(f"{len(exc.errors)} problem(s) in {name}; no card was issued")


def _plan_text(plan: issuance.BatchPlan) -> str:
    c = plan.counts()
    return (f"{c['roster_members']} members on the roster: {c['to_issue']} cards to issue "
            f"(new {c['new']}, changed {c['changed']}, key ended {c['key_ended']}, "
            f"reissued {c['reissued']}), {c['unchanged']} unchanged; {c['missing']} members "
            "with a valid card are not on the roster")


def _result_text(result: issuance.BatchResult) -> str:
    c = result.counts
    lines = [f"Issued {c['to_issue']} cards for {result.institution_id} (new {c['new']}, "
             f"changed {c['changed']}, key ended {c['key_ended']}, reissued "
             f"{c['reissued']}); {c['unchanged']} unchanged. Batch {result.batch}."]
    if result.revoked:
        lines.append(f"Revoked the cards of {len(result.revoked)} members no longer on the "
                     "roster: " + ", ".join(result.revoked))
    elif c["missing"]:
        lines.append(f"{c['missing']} members with a valid card are not on this roster "
                     "(--revoke-missing revokes their cards).")
    lines.append("Written: " + ", ".join(path for path in result.files.values() if path))
    return "\n".join(lines + [f"Warning: {w}" for w in result.warnings])


@cards_group.command("issue-batch")
@click.argument("roster_file", metavar="ROSTER",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--institution", required=True, help="The issuing (home) institution id.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="An empty (or new) folder for cards.csv, cards.pdf and pkpass/.")
@click.option("--base-url", envvar=BASE_URL_ENV_VAR, show_envvar=True,
              help="The kiosk's public address, for the card_url column.")
@click.option("--paper", type=click.Choice(["letter", "a4"]), default="letter",
              show_default=True, help="Print sheet paper size.")
@click.option("--no-pdf", is_flag=True, help="Write no print sheets.")
@click.option("--revoke-missing", is_flag=True,
              help="Revoke the cards of members with a valid card who are not on the roster.")
@click.option("--reissue-all", is_flag=True, help="Issue every member's card, changed or not.")
@click.option("--allow-expired", is_flag=True, help="Accept expiry dates before today.")
@click.option("--dry-run", is_flag=True, help="Check the roster and show the plan only.")
@click.option("--pkpass-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Apple Pass Type ID certificate (PEM): makes one .pkpass per member.")
@click.option("--pkpass-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Its private key (PEM).")
@click.option("--pkpass-key-password", envvar="PASSPORT_PKPASS_KEY_PASSWORD",
              show_envvar=True, help="The key's password, when it has one.")
@click.option("--pkpass-wwdr", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Apple's WWDR intermediate certificate (PEM).")
@click.option("--pass-type-id", help="The Pass Type ID (pass.org.example.members).")
@click.option("--team-id", help="The Apple team id (10 characters).")
@click.option("--actor", help="Who issues (recorded); default cli:<OS user>.")
@click.option("--programs", default="astc", show_default=True, metavar="ID,ID",
              help="The programs every card of the run qualifies for; ASTC alone writes "
              "version 1 cards, any other set version 2 (a change re-issues the cards).")
@json_option
def issue_batch(roster_file, institution, out_dir, base_url, paper, no_pdf, revoke_missing,
                reissue_all, allow_expired, dry_run, pkpass_key_password, actor, programs,
                as_json, **pass_options):
    """Issue the cards of a whole membership from a CRM roster (CSV, XLSX or JSON).

    \b
    Example:
      passport cards issue-batch members.csv --institution exploratorium-san-francisco \\
        --out cards-2026-06 --base-url https://passport.example.org

    Every bad cell is reported with its row and column, and no card is issued unless the
    whole roster is valid. A re-run issues only new and changed members (expiry, names,
    party, postal code); --revoke-missing revokes the cards of members no longer on it.
    With --json prints {"batch", "issued", "new", "changed", ..., "revoked", "files"}.
    """
    if not dry_run:
        if out_dir is None:
            fail("give --out DIR (or --dry-run)")
        try:
            issuance.check_out_dir(out_dir)
        except issuance.BatchError as exc:
            fail(str(exc))
    signer = _pass_signer(pass_options, pkpass_key_password)
    with closing(open_store()) as db:
        try:
            site = issuance.site_for(db, institution)
            parsed = issuance.read_roster(db, roster_file.read_bytes(), roster_file.name, site,
                                          allow_expired=allow_expired)
            plan = issuance.plan_batch(db, parsed, site, reissue_all=reissue_all,
                                       programs=programs)
        except roster.RosterError as exc:
            _refused(exc, roster_file.name, as_json)
        except issuance.BatchError as exc:
            fail(str(exc))
        if dry_run:
            emit({"dry_run": True, **plan.counts(), "missing_members": plan.missing,
                  "warnings": parsed.warnings}, as_json, lambda _: _plan_text(plan))
            return
        bars = _Bars(not as_json)
        try:
            result = issuance.issue_batch(
                db, plan, out_dir, issuance.BatchOptions(
                    base_url=base_url, paper=paper, pdf=not no_pdf,
                    revoke_missing=revoke_missing, pass_signer=signer),
                actor=actor or audit.cli_actor(), progress=bars)
        except (issuance.BatchError, OSError) as exc:
            fail(str(exc))
        finally:
            bars.close()
    emit(result.to_json(), as_json, lambda _: _result_text(result))
