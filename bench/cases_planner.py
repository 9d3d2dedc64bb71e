"""Benchmark rows for the member planner (issue 11: <= 1 ms for 368 sites, <= 3 ms for 2,000,
in-process): ``passport.planner.plan_sites`` beside the per-site ``rules.decide()`` loop it
replaces, on the shipped list and on 2,000 sites made from it (``bench/planner.py``, which
also reports the planner page's size over the wire). One member of OMSI living at ZIP 97214,
going to Chicago; "home only" drops the residence and the destination.
"""

from __future__ import annotations

from bench.planner import HOME, big_active, decide_loop_call, plan_call, shipped_active
from bench.registry import register

TASK_368 = "member plan, 368 sites (target <= 1 ms)"
TASK_2000 = "member plan, 2,000 sites (target <= 3 ms)"


@register(TASK_368, "planner.plan_sites", note="home + residence + destination")
def _plan_368(inputs):
    return plan_call(shipped_active())


@register(TASK_368, "planner.plan_sites (home only)", note="no residence, no destination")
def _plan_368_home(inputs):
    from passport import planner

    return planner.plan_sites, (shipped_active(), HOME)


@register(TASK_368, "rules.decide per site (loop)", note="home + residence, 367 calls")
def _loop_368(inputs):
    return decide_loop_call(shipped_active())


@register(TASK_2000, "planner.plan_sites", note="home + residence + destination")
def _plan_2000(inputs):
    return plan_call(big_active())


@register(TASK_2000, "rules.decide per site (loop)", note="home + residence, 1,999 calls")
def _loop_2000(inputs):
    return decide_loop_call(big_active())
