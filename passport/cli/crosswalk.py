"""CLI commands: the crosswalk between programs' lists (suggest, list, confirm, reject)."""

from __future__ import annotations

from contextlib import closing

import click

from passport import audit, crosswalk
from passport.cli import main
from passport.cli.common import emit, fail, json_option, open_store

CITY_NOTE = ("(*: a city-level point, the city's centre, not the building: its distances "
             "may be off by several miles)")


def _entry_text(entry: dict) -> str:
    mark = "*" if entry["city_level_point"] else ""
    place = ", ".join(p for p in (entry["city"], entry["region"]) if p)
    return f"{entry['program']}:{entry['id']}{mark} {entry['name'] or '(not on the list)'}" + (
        f" ({place})" if place else "")


def _pair_text(pair: dict) -> str:
    miles = pair["distance_miles"]
    facts = [pair["status"], f"score {pair['score']}" if pair["score"] is not None else None,
             f"{miles:.2f} mi" if miles is not None else None]
    if pair.get("decided_by"):
        facts.append(f"by {pair['decided_by']}")
    return (f"{_entry_text(pair['a'])}\n  = {_entry_text(pair['b'])}\n  "
            + ", ".join(f for f in facts if f))


def _pairs_text(pairs: list[dict]) -> str:
    if not pairs:
        return "no crosswalk pairs"
    lines = [_pair_text(p) for p in pairs]
    if any(p["a"]["city_level_point"] or p["b"]["city_level_point"] for p in pairs):
        lines.append(CITY_NOTE)
    return "\n".join(lines)


@main.group("crosswalk")
def crosswalk_group() -> None:
    """Which entries of two programs' lists are the same institution.

    Lists do not share ids across programs; the same id on two lists is taken as the same
    institution unless a pair is rejected. `suggest` finds likely pairs by distance and name;
    an admin confirms or rejects them.
    """


@crosswalk_group.command("suggest")
@click.option("--from", "program_from", required=True, metavar="PROGRAM",
              help="A program with an active list (e.g. astc).")
@click.option("--to", "program_to", required=True, metavar="PROGRAM",
              help="Another program with an active list (e.g. narm).")
@click.option("--min-score", type=float, default=crosswalk.MIN_SCORE, show_default=True,
              help="Lowest name similarity, 0 to 100.")
@json_option
def suggest(program_from, program_to, min_score, as_json):
    """Suggest pairs of entries that look like one institution and store them as suggested.

    \b
    Example:
      passport crosswalk suggest --from astc --to narm --json

    Replaces the earlier suggestions of these two programs; confirmed and rejected pairs stay
    and a rejected pair is never suggested again. --json prints {"suggestions": [{"a", "b",
    "status", "score", "distance_miles"}]}.
    """
    with closing(open_store(must_exist=True)) as db:
        try:
            found = crosswalk.suggest(db, program_from, program_to, min_score=min_score,
                                      actor=audit.cli_actor())
        except crosswalk.CrosswalkError as exc:
            fail(str(exc))
    emit({"suggestions": found}, as_json, lambda r: _pairs_text(r["suggestions"]))


@crosswalk_group.command("list")
@click.option("--program", default=None, metavar="PROGRAM", help="Pairs with this program.")
@click.option("--status", type=click.Choice(crosswalk.STATUSES), default=None,
              help="Only pairs of this status.")
@json_option
def list_pairs(program, status, as_json):
    """List the stored crosswalk pairs, suggestions best first, then decisions newest first.

    \b
    Example:
      passport crosswalk list --program narm --status confirmed

    --json prints {"pairs": [{"a", "b", "status", "score", "distance_miles", "suggested_at",
    "decided_by", "decided_at"}]}; an entry no longer on its list has "name": null.
    """
    with closing(open_store(must_exist=True)) as db:
        try:
            found = crosswalk.pairs(db, program=program, status=status)
        except crosswalk.CrosswalkError as exc:
            fail(str(exc))
    emit({"pairs": found}, as_json, lambda r: _pairs_text(r["pairs"]))


def _decide(action, first: str, second: str, as_json: bool) -> None:
    with closing(open_store(must_exist=True)) as db:
        try:
            pair = action(db, crosswalk.parse_entry(first), crosswalk.parse_entry(second),
                          audit.cli_actor())
        except crosswalk.CrosswalkError as exc:
            fail(str(exc))
    emit(pair, as_json, _pair_text)


@crosswalk_group.command("confirm")
@click.argument("first", metavar="PROGRAM:ID")
@click.argument("second", metavar="PROGRAM:ID")
@json_option
def confirm(first, second, as_json):
    """Confirm that two programs' entries are the same institution.

    \b
    Example:
      passport crosswalk confirm astc:chabot-space-science-center-oakland \\
        narm:chabot-space-science-center-oakland

    Each entry has at most one confirmed counterpart per program (reject the old pair first).
    """
    _decide(crosswalk.confirm, first, second, as_json)


@crosswalk_group.command("reject")
@click.argument("first", metavar="PROGRAM:ID")
@click.argument("second", metavar="PROGRAM:ID")
@json_option
def reject(first, second, as_json):
    """Reject a pair: the two entries are not the same institution, even with the same id.

    \b
    Example:
      passport crosswalk reject astc:museum-of-utah-salt-lake-city \\
        narm:museum-of-utah-salt-lake-city

    A rejected pair is never suggested again and never links the two in a decision.
    """
    _decide(crosswalk.reject, first, second, as_json)
