"""One visit under several programs: which programs a member and a site share, and the best
benefit among their decisions.

Many sites belong to two or three networks (ASTC, NARM, AZA, ...). A visit is decided under
every program that the home institution, the visited site and the card share; each program
is decided by ``rules.decide`` on its own active list, and the best admission leads:
free general admission > member admission > a discount (the larger first) > a store discount
only (``rules.BENEFITS``), ties in the programs' order. Nothing here reads the store: the
caller hands in the active lists and the crosswalk.

Program lists do not share ids. An id names an entry in every list it is on; in the other
lists, its counterpart is what the crosswalk links it to (``passport.crosswalk``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from passport import rules


class Links(Protocol):
    """What is read of the crosswalk (``passport.crosswalk.Crosswalk``)."""

    def counterpart(self, program_from: str, institution_id: str, program_to: str,
                    on_target: Any) -> str | None: ...


def entries(actives: Sequence[Any], links: Links, institution_id: str) -> dict[str, str]:
    """The entry of ``institution_id`` in each program's list: {program: id there}. The id
    names an entry of the first program whose list has it; in every other list, the
    counterpart (``Links.counterpart``: a confirmed link, else the same id unless an admin
    rejected the pair) of an entry found so far, so links chain (ASTC = NARM, NARM = AZA)."""
    found: dict[str, str] = {}
    for active in actives:
        if institution_id in active.by_id:
            found[active.profile.name] = institution_id
            break
    grown = bool(found)
    while grown:  # at most one pass per program (plain loops: this runs on every check)
        grown = False
        for active in actives:
            program = active.profile.name
            if program in found:
                continue
            for source, source_id in list(found.items()):
                other = links.counterpart(source, source_id, program, active.by_id)
                if other is not None:
                    found[program] = other
                    grown = True
                    break
    return found


def benefit_rank(decision: rules.Decision, sort_order: int) -> tuple:
    """Sort key of an admission: the better benefit first, then the programs' order."""
    benefit = decision.benefit or rules.BENEFITS[-1]
    rank = rules.BENEFITS.index(benefit) if benefit in rules.BENEFITS else len(rules.BENEFITS)
    return rank, -(decision.discount_percent or 0.0), sort_order


def best_first(decisions: Sequence[rules.Decision], orders: dict[str, int]
               ) -> list[rules.Decision]:
    """Admissions by benefit (``benefit_rank``), then denials in the programs' order."""
    admitted = [d for d in decisions if d.admit]
    denied = [d for d in decisions if not d.admit]
    admitted.sort(key=lambda d: benefit_rank(d, orders.get(d.program, 100)))
    denied.sort(key=lambda d: orders.get(d.program, 100))
    return admitted + denied


def decide_across(
    actives: Sequence[Any], links: Links, visit: str, home: str | None,
    programs: Sequence[str] | None, decide: Callable[[Any, str, str | None], rules.Decision],
) -> rules.Decision:
    """Decide ``visit`` for a member of ``home`` under every program the two and the card
    (``programs``: the programs it qualifies for; None: any, as for a printed card) share,
    best first; the returned decision is the best, its ``programs`` all of them.

    ``decide(active, visit_id, home_id)`` decides one program. When no program is shared
    (or ``home`` is None: a card that did not verify), the visit is decided under one
    program only, so the usual reasons say why: the first the card names whose list has the
    site, else the first the card names, else the first program with a list.
    """
    allowed = set(programs) if programs is not None else None
    candidates = [a for a in actives if allowed is None or a.profile.name in allowed]
    # Found on every list (a card's home id may be on a program it does not qualify for),
    # then kept to the card's programs.
    names = {a.profile.name for a in candidates}
    visits = {p: i for p, i in entries(actives, links, visit).items() if p in names}
    homes = ({p: i for p, i in entries(actives, links, home).items() if p in names}
             if home is not None else {})
    shared = [a for a in candidates if a.profile.name in visits and a.profile.name in homes]
    if not shared:
        active = _fallback(candidates or list(actives), visits, programs)
        name = active.profile.name
        return decide(active, visits.get(name, visit), homes.get(name, home))
    decided = [decide(a, visits[a.profile.name], homes[a.profile.name]) for a in shared]
    if len(decided) == 1:
        return decided[0]
    orders = {a.profile.name: a.profile.sort_order for a in shared}
    ranked = best_first(decided, orders)
    ranked[0].programs = ranked
    return ranked[0]


def _fallback(actives: Sequence[Any], visits: dict[str, str],
              programs: Sequence[str] | None) -> Any:
    """The one program a visit nobody shares is decided under (see ``decide_across``)."""
    for active in actives:
        if active.profile.name in visits:
            return active
    if programs:
        for active in actives:
            if active.profile.name == programs[0]:
                return active
    return actives[0]
