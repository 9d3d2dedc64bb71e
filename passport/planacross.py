"""A member's plan across programs: every site of every program the member's home belongs
to, each site once, with the best benefit of the programs that admit there.

``planner.plan_for`` plans one program's list. Here the plan of each program of the home
(``across.entries``: the home's entry in each list, directly or through the crosswalk) is
made, and their entries merged: an entry of another program joins an earlier program's
entry of the same institution (the crosswalk, or the same id unless an admin rejected the
pair), else it is a site of its own. Each
entry then carries ``programs`` (``{"program", "admit", "benefit", "discount_percent",
"why"}`` for each program listing it, best first) and ``best``; its ``benefit`` and
``program`` are the best's. A site is eligible when any of its programs admits there.
``program`` in ``Filters`` keeps the sites of that program only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from passport import across, rules

_PROGRAM_FIELDS = ("admit", "benefit", "discount_percent", "why")


def _program_part(program: str, entry: dict, admit: bool) -> dict[str, Any]:
    part = {"program": program, **{f: entry.get(f) for f in _PROGRAM_FIELDS}}
    part["admit"] = admit
    if admit:
        part["why"] = None
    return part


def _rank(part: dict, orders: dict[str, int]) -> tuple:
    if not part["admit"]:
        return 1, orders.get(part["program"], 100)
    benefit = part["benefit"] or rules.BENEFITS[-1]
    rank = rules.BENEFITS.index(benefit) if benefit in rules.BENEFITS else len(rules.BENEFITS)
    return 0, rank, -(part["discount_percent"] or 0.0), orders.get(part["program"], 100)


def _tagged(answer: dict, program: str) -> list[tuple[dict, dict]]:
    """Every entry of one program's plan with its program part."""
    return [(entry, _program_part(program, entry, admit))
            for admit, key in ((True, "eligible"), (False, "ineligible"))
            for entry in answer[key]]


def merge(answers: Sequence[tuple[Any, dict]], links: across.Links, *,
          program_filter: str | None, limit: int | None, near: bool) -> dict[str, Any]:
    """Merge the plans ``answers`` ((active list, plan) per program, the first program
    first) into one (see the module's docstring)."""
    merged: dict[tuple[str, str], dict[str, dict]] = {}  # site -> {program: entry}
    parts: dict[tuple[str, str], list[dict]] = {}
    site_of: dict[tuple[str, str], tuple[str, str]] = {}  # (program, id) -> its site's key
    for k, (active, answer) in enumerate(answers):
        program = active.profile.name
        for entry, part in _tagged(answer, program):
            key = _same_site(answers[:k], links, program, entry["id"], site_of)
            site_of[(program, entry["id"])] = key
            merged.setdefault(key, {})[program] = entry
            parts.setdefault(key, []).append(part)
    orders = {a.profile.name: a.profile.sort_order for a, _ in answers}
    entries = [_best_entry(merged[key], parts[key], orders) for key in merged]
    if program_filter is not None:
        entries = [e for e in entries
                   if any(p["program"] == program_filter for p in e["programs"])]
    return _lists(entries, limit, near)


def _same_site(earlier: Sequence[tuple[Any, dict]], links: across.Links, program: str,
               ident: str, site_of: dict[tuple[str, str], tuple[str, str]]
               ) -> tuple[str, str]:
    """The key of the site an entry joins: the first earlier program's entry that is the
    same institution (``Links.counterpart``, so an admin's rejection keeps two entries
    apart), else the entry's own key."""
    for active, _ in earlier:
        other = active.profile.name
        same = links.counterpart(program, ident, other, active.by_id)
        if same is not None and (other, same) in site_of:
            return site_of[(other, same)]
    return program, ident


def _best_entry(by_program: dict[str, dict], parts: list[dict], orders: dict[str, int]
                ) -> dict:
    """One site's entry: the best program's, with every program's part and the best."""
    parts.sort(key=lambda part: _rank(part, orders))
    best = parts[0]
    entry = dict(by_program[best["program"]])
    entry["program"] = best["program"]
    entry["programs"] = parts
    entry["best"] = ({"program": best["program"], "benefit": best["benefit"],
                      "discount_percent": best["discount_percent"]} if best["admit"] else None)
    return entry


def _lists(entries: list[dict], limit: int | None, near: bool) -> dict[str, Any]:
    """The merged entries as the plan's two lists, nearest first."""
    ok = [e for e in entries if e["best"] is not None]
    not_ok = [e for e in entries if e["best"] is None]
    distance = "near_distance_miles" if near else "home_distance_miles"
    ok.sort(key=lambda e: (e[distance], e["id"]))
    not_ok.sort(key=lambda e: (e[distance], e["id"]))
    return {"eligible_count": len(ok), "eligible": ok[:limit] if limit is not None else ok,
            "ineligible_count": len(not_ok), "ineligible": not_ok}
