"""CLI commands: ``check`` (one visit) and ``eligible`` (where a member may go)."""

from __future__ import annotations

import click

from passport import admission, institutions, rules
from passport.cli import main
from passport.cli.common import emit, fail, json_option, open_store
from passport.rules import Decision, format_miles


def _residence_text(residence: dict) -> str:
    """``L3P 3J3, CA (Markham Central, ON)``, ``Markham, ON, CA`` or ``43.87,-79.27``."""
    if residence["postal_code"]:
        where = f"{residence['postal_code']}, {residence['country']}"
        return f"{where} ({residence['place']})" if residence["place"] else where
    return residence["place"] or f"{residence['lat']:.4f},{residence['lon']:.4f}"


def _decision_text(d: Decision) -> str:
    """The decision for people; across programs, the best first and then each other one."""
    lines = [_program_text(d)]
    for other in d.programs[1:]:
        lines += ["", "also " + _program_text(other)]
    return "\n".join(lines)


def _benefit_text(d: Decision) -> str:
    if not d.benefit:
        return ""
    text = d.benefit.replace("_", " ")
    return f"{text} {d.discount_percent:g} %" if d.discount_percent else text


def _program_text(d: Decision) -> str:
    verdict = "ADMIT" if d.admit else "DENY"
    who = f"{d.visit_name or d.visit}"
    program = f"{d.program}: " if d.program else ""
    benefit = f" - {_benefit_text(d)}" if d.admit else ""
    lines = [f"{verdict}  {who}{benefit} ({program}list version {d.list_version}, {d.on})"]
    if d.home_distance_miles is not None:
        miles = format_miles(d.home_distance_miles, d.radius_miles)
        lines.append(f"  home {d.home_name or d.home}: {miles} miles")
    if d.residence is not None:
        where = f"  residence {_residence_text(d.residence)}"
        if not d.residence["located"]:
            where += f": not located ({d.residence['note']})"
        elif d.residence_distance_miles is not None:
            where += f": {format_miles(d.residence_distance_miles, d.radius_miles)} miles"
        lines.append(where)
    if d.admit:
        lines.append(f"  covers {d.covered} of {d.party_size}")
    lines += [f"  {code}: {d.text_of(code)}" for code in d.reasons]
    lines += [f"  staff: {d.text_of(code)}" for code in d.staff_checks]
    if d.terms:
        lines.append(f"  site terms: {d.terms}")
    if d.distance_precision == "city":
        lines.append("  distances are from a city's centre (this list's points), +-1-15 km")
    return "\n".join(lines)


@main.command()
@click.option("--visit", required=True, help="Id of the institution being visited.")
@click.option("--home", default=None, help="Member's home institution id (printed card).")
@click.option("--card", default=None, help="Scanned card payload.")
@click.option("--card-image", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Photo or PNG of the card's QR code.")
@click.option("--residence", default=None, metavar="LAT,LON", help="Member's residence.")
@click.option("--residence-place", default=None, metavar="TEXT",
              help='Member\'s town or city, offline gazetteer (e.g. "Markham, ON, CA").')
@click.option("--postal", default=None, help="Residence postal code (with --country).")
@click.option("--country", default=None, help="Residence country, two letters.")
@click.option("--on", "on", default=None, metavar="YYYY-MM-DD",
              help="Visit date (default: today at the visited site).")
@click.option("--expires", default=None, metavar="YYYY-MM-DD",
              help="Printed card's expiry date (with --home).")
@click.option("--adults", type=click.IntRange(min=0), default=None, help="Adults in the party.")
@click.option("--children", type=click.IntRange(min=0), default=None,
              help="Children in the party.")
@click.option("--no-named-member", is_flag=True,
              help="Nobody named on the card is present.")
@click.option("--program", default=None, metavar="ID",
              help="Decide under this program only (default: every program the home, the "
                   "site and the card share; the best benefit first).")
@json_option
def check(visit, home, card, card_image, residence, residence_place, postal, country, on,
          expires, adults, children, no_named_member, program, as_json):
    """Decide one visit: ADMIT or DENY with every reason and the distances.

    Give the member's home institution (--home, staff read the printed card), or a card
    (--card PAYLOAD or --card-image PNG). The residence (--residence, --residence-place or
    --postal with --country; else the card's postal code) is placed offline; one that
    cannot be placed leaves CHECK_RESIDENCE on an admission. A DENY is a decision, not an
    error: the exit status is 0; bad input (an unknown place too) exits 1 with one line on
    stderr.

    \b
    Example:
      passport check --visit exploratorium-san-francisco \\
        --home anchorage-museum-anchorage --postal 99501 --country US --json
      passport check --visit markham-museum-markham --card PYZ1... \\
        --residence-place "Markham, ON, CA"
    """
    party = None
    if adults is not None or children is not None or no_named_member:
        party = {"adults": 1 if adults is None else adults,
                 "children": children or 0, "named_present": not no_named_member}
    db = open_store(must_exist=True)
    try:
        decision = admission.check(db, visit, home=home, card=card, card_image=card_image,
                                residence=residence, residence_place=residence_place,
                                postal=postal, country=country, on=on, expires=expires,
                                party=party, program=program)
    except (admission.CheckInputError, institutions.NoActiveList,
            institutions.UnknownProfile) as exc:
        fail(str(exc))
    finally:
        db.close()
    emit(decision.to_json(), as_json, lambda _: _decision_text(decision))


@main.command()
@click.option("--home", required=True, help="Member's home institution id.")
@click.option("--residence", default=None, metavar="LAT,LON", help="Member's residence.")
@click.option("--residence-place", default=None, metavar="TEXT",
              help='Member\'s town or city, offline gazetteer (e.g. "Markham, ON, CA").')
@click.option("--postal", default=None, help="Residence postal code (with --country).")
@click.option("--country", default=None, help="Residence country, two letters.")
@click.option("--near", default=None, metavar="LAT,LON",
              help="Sort by distance from this point instead of from home.")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help="At most N eligible sites.")
@click.option("--program", default=rules.DEFAULT_PROFILE_NAME, show_default=True,
              metavar="ID", help="The program whose list and rules to use.")
@json_option
def eligible(home, residence, residence_place, postal, country, near, limit, program,
             as_json):
    """List the sites a member of HOME may visit free, nearest first.

    \b
    Example:
      passport eligible --home exploratorium-san-francisco --postal 94110 --country US \\
        --near 34.05,-118.24 --limit 10 --json
    """
    db = open_store(must_exist=True)
    try:
        result = admission.eligible(db, home, residence=residence,
                                 residence_place=residence_place, postal=postal,
                                 country=country, near=near, limit=limit, profile=program)
    except (admission.CheckInputError, institutions.NoActiveList,
            institutions.UnknownProfile) as exc:
        fail(str(exc))
    finally:
        db.close()

    def text(r: dict) -> str:
        key = "near_miles" if r["near"] else "distance_miles"
        lines = [f"{r['eligible_count']} eligible sites for members of {r['home']['name']} "
                 f"(list version {r['list_version']}):"]
        radius = r["radius_miles"]
        lines += [f"  {format_miles(e[key], radius):>7} mi  {e['name']} ({e['city']}, "
                  f"{e['region'] or e['country']})" for e in r["eligible"]]
        lines.append(f"{len(r['ineligible'])} not eligible (too close):")
        lines += [f"  {format_miles(e['distance_miles'], radius):>7} mi  {e['name']}  "
                  f"{', '.join(e['reasons'])}" for e in r["ineligible"]]
        return "\n".join(lines)

    emit(result, as_json, text)
