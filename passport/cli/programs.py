"""CLI commands: the program catalogue (``passport programs``, ``passport programs add``)."""

from __future__ import annotations

import click

from passport import audit, programs
from passport.cli import main
from passport.cli.common import emit, fail, json_option, open_store
from passport.rules import BENEFITS


def _programs_text(payload: dict) -> str:
    lines = []
    for p in payload["programs"]:
        rule = p["distance_rule"] + (f" {p['radius_miles']:g} mi" if p["radius_miles"] else "")
        listed = (f"list v{p['list_version']}, {p['institution_count']} institutions"
                  if p["list_version"] is not None else "no list yet")
        lines.append(f"{p['id']:<8} {p['name']}  [{rule}; {p['benefit']}; {listed}]")
    return "\n".join(lines)


@main.group("programs", invoke_without_command=True)
@json_option
@click.pass_context
def programs_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the reciprocal programs (profiles): rules, benefit, card mark, active list.

    \b
    Example:
      passport programs --json
      passport programs add garden90 --name "Garden Network" --radius-miles 90
    """
    if ctx.invoked_subcommand is not None:
        return
    db = open_store()
    try:
        payload = {"programs": programs.catalogue(db)}
    finally:
        db.close()
    emit(payload, as_json, _programs_text)


@programs_cmd.command("add")
@click.argument("program_id", metavar="ID")
@click.option("--name", required=True, help="The program's name as people read it.")
@click.option("--radius-miles", type=float, required=True,
              help="Home institution must be farther than this (0: no program radius).")
@click.option("--residence-rule", is_flag=True,
              help="The member's residence must be farther than the radius too.")
@click.option("--per-site", is_flag=True,
              help="No program radius; each site's distance terms come with the list.")
@click.option("--benefit", type=click.Choice(BENEFITS), default="general_admission",
              show_default=True, help="What an admission gives.")
@click.option("--discount-percent", type=float, default=None,
              help="The discount, with --benefit discount.")
@click.option("--card-mark", default=None, help="What the member's card must show.")
@click.option("--min-membership", default=None, help="The lowest qualifying membership.")
@json_option
def programs_add(program_id: str, name: str, radius_miles: float, residence_rule: bool,
                 per_site: bool, benefit: str, discount_percent: float | None,
                 card_mark: str | None, min_membership: str | None, as_json: bool) -> None:
    """Add a program; then publish its list with `passport import FILE --program ID`.

    \b
    Example:
      passport programs add garden90 --name "Garden Network" --radius-miles 90 \\
          --card-mark "Garden Network sticker" --json
    """
    db = open_store()
    try:
        profile = programs.add_program(
            db, program_id, name, radius_miles=radius_miles, residence_rule=residence_rule,
            per_site=per_site, benefit=benefit, discount_percent=discount_percent,
            card_mark=card_mark, min_membership=min_membership, actor=audit.cli_actor())
        payload = programs.to_json(profile, db)
    except programs.ProgramError as exc:
        fail(str(exc))
    finally:
        db.close()
    emit(payload, as_json, lambda p: f"Added program {p['id']} ({p['name']}); publish its "
                                     f"list with: passport import FILE --program {p['id']}")
