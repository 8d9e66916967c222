"""Why a request cannot be met, and the tightest tolerance that can."""

from __future__ import annotations

import highspy
import numpy as np

from terrlib.territory import model as lp
from terrlib.territory import polish
from terrlib.territory.problem import TerritoryProblem
from terrlib.territory.relaxation import Workspace, relax

#: accounts x territories at or below which the diagnosis solves MILPs (the LP's answer above)
SMALL = 50_000
#: nodes each of its MILPs may take looking for a plan (the time limit is a safety net), so
#: the tolerance it names does not depend on the machine's speed
NODES = 100


def _locked_overload(problem: TerritoryProblem) -> str | None:
    """The territory whose locked accounts alone need more than its band allows, if any."""
    p, m = problem, problem.m
    lk = np.flatnonzero(p.locked)
    if not lk.size:
        return None
    v = p.arc_values(lk, p.current[lk])
    hrs = np.bincount(p.current[lk], weights=v["hours"], minlength=m)
    rows, cols = p.nearest(1)
    est = p.share * p.arc_values(rows, cols)["hours"].sum()
    worst = int(np.argmax(hrs / est))
    if hrs[worst] > (1 + p.tolerance) * est[worst]:
        return (
            f"locked accounts in {p.ids[worst]} already need "
            f"{hrs[worst] / est[worst]:.0%} of its workload target"
        )
    return None


class _Feasibility:
    """Whether a tolerance can be met: an exact MILP (any plan, within :data:`NODES` nodes)
    on small problems, the LP relaxation on larger ones. Potential's band is never tighter
    than workload's."""

    def __init__(self, problem: TerritoryProblem, ws: Workspace, lp_only: bool = False):
        self.problem, self.ws = problem, ws
        self.small = problem.n * problem.m <= SMALL and not lp_only
        self.every = problem.every_arc() if self.small else None
        self.unsettled: list[float] = []  # neither a plan nor a proof within the time

    def __call__(self, tol: float) -> bool:
        p = self.problem
        p_tol = max(p.p_tol, tol)
        if not self.small:  # the LP's answer: the true tightest tolerance is at least this
            return relax(p.with_bands(p.tolerance, p_tol), self.ws, tol).status == "optimal"
        trial = p.with_bands(tol, p_tol)
        if self.ws.scales is None:
            self.ws.scales = lp.Scales.of(p, self.every)
        model = lp.build(trial, self.ws.scales, self.every, tol, integer=True)
        polish.capped(model.highs, 20.0, NODES, 1.0)  # any plan will do
        model.highs.run()
        found = model.highs.getInfo().primal_solution_status == 2
        if not found and model.highs.getModelStatus() != highspy.HighsModelStatus.kInfeasible:
            self.unsettled.append(tol)
        return found


def diagnose(problem: TerritoryProblem, ws: Workspace) -> tuple[str, float | None]:
    """Say which rule cannot hold, and the tightest tolerance that can (``None`` when none
    up to ±100% can): bisection between the request's tolerance and 100%."""
    p = problem
    s = p.settings
    parts = [why for why in [_locked_overload(p)] if why]
    feasible = _Feasibility(p, ws)
    lo, hi = p.tolerance, 1.0
    if not feasible(hi):
        parts.append("no tolerance up to ±100% can be met")
        if s["max_moved_share"] is not None:
            parts.append(f"the cap of {s['max_moved_share']:.0%} moved may be too tight")
        return "the balance rules cannot all hold: " + "; ".join(parts), None
    for _ in range(8 if feasible.small else 10):
        mid = (lo + hi) / 2
        if feasible(mid):
            hi = mid
        else:
            lo = mid
    what = "; ".join(parts) + "; " if parts else ""
    tightest = (
        f"a tolerance of ±{hi:.1%} can be met (whether a tighter one can was not settled "
        "in the time allowed)"
        if feasible.unsettled
        else f"the tightest tolerance that can be met is about ±{hi:.1%}"
    )
    moved = (
        f" with at most {s['max_moved_share']:.0%} of "
        + ("accounts" if s["cap_by"] == "accounts" else "revenue")
        + " moved"
        if s["max_moved_share"] is not None
        else ""
    )
    return (
        f"the balance rules cannot all hold at ±{p.tolerance:.1%}: {what}{tightest}"
        + ("" if feasible.small else " or a little more (from the LP relaxation)")
        + moved
    ), hi


def tightest(
    problem: TerritoryProblem, ws: Workspace, hi: float = 1.0, steps: int = 8, lp_only=False
):
    """The tightest workload tolerance up to ``hi`` that ``problem``'s other rules allow
    (potential's band never tighter than workload's; territories' own tolerances kept), by
    bisection from 0 in ``steps`` halvings; None when not even ``hi`` can be met. Exact on
    small problems unless ``lp_only``, the LP's otherwise (a bound: the true tightest is a
    little more)."""
    feasible = _Feasibility(problem, ws, lp_only)
    if not feasible(hi):
        return None
    lo = 0.0
    for _ in range(steps):
        mid = (lo + hi) / 2
        if feasible(mid):
            hi = mid
        else:
            lo = mid
    return hi
