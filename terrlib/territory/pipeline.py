"""One solve of a problem, step by step: where the LP starts, the relaxation and its bound,
then the integer assignment. :func:`solve` is what the estimator and each region run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from terrlib.territory import model as lp
from terrlib.territory.diagnose import diagnose
from terrlib.territory.dual import dual_start
from terrlib.territory.problem import InfeasibleRequest, TerritoryProblem
from terrlib.territory.relaxation import Workspace, relax
from terrlib.territory.rounding import LPPoint, integer
from terrlib.territory.tidy import tidy

# accounts x territories at or below which a solve hands every account to one MILP by
# default (from the polished rounding, at most polish.EXACT_NODES nodes, so that the
# machine's speed does not decide the proposal)
EXACT = 5_000
# accounts x territories from which a solve starts the LP from the arcs an approximate
# Lagrangian dual picks (terrlib.territory.dual), not from each account's nearest homes: there
# HiGHS spends most of its time on arcs the optimum does not use. On generated plans it was
# faster with gaps as good or better from 5,000 x 50 up (2-4 s against 14-42 s), while at
# 2,000 x 20 the MILP around the rounding, which that path skips, still paid. Only when
# workload excludes travel: with travel in workload (20,000 x 100) the dual's arcs made the
# LP slower (over 900 s against 543 s for the whole solve), so that case keeps the usual start
DUAL = 200_000


@dataclass
class Solution:
    """A solved problem: the assignment (territory positions), the certified lower bound,
    how it was found, the LP's multipliers (see :func:`terrlib.territory.model.multipliers`)
    and the LP's scales."""

    assign: np.ndarray
    bound: float
    method: str
    prices: dict[str, np.ndarray]
    scales: lp.Scales


def check(problem: TerritoryProblem, ws: Workspace, assign: np.ndarray, explain=True) -> None:
    """Raise :class:`InfeasibleRequest` (with the diagnosis, when ``explain``) unless
    ``assign`` keeps every rule."""
    if problem.evaluate(assign)["breach"] > 1e-6:
        if not explain:
            raise InfeasibleRequest("the balance rules cannot all hold")
        raise InfeasibleRequest(*diagnose(problem, ws))


def solve(
    problem: TerritoryProblem,
    ws: Workspace,
    exact: bool,
    limit: float,
    quick: bool = False,
    rounding_only: bool = False,
    explain: bool = True,
    tidy_edges: bool = True,
) -> Solution:
    """Solve ``problem``: the LP relaxation by column generation (from every arc when
    ``exact``, from the dual's arcs on large plans without travel in workload, else from the
    nearest homes or the workspace's warm start), then the integer assignment
    (:func:`terrlib.territory.rounding.integer`; ``rounding_only``: its first rounding or
    an :class:`InfeasibleRequest` without a diagnosis; without ``explain`` no request is
    diagnosed), and unless ``quick``, ``rounding_only`` or not ``tidy_edges`` its edges
    tidied (:func:`terrlib.territory.tidy.tidy`, when the ``tidy`` setting is above 0).

    Raises
    ------
    InfeasibleRequest
        When no assignment meets the rules, naming the rule and the tightest tolerance
        that can be met.
    """
    p, n, m = problem, problem.n, problem.m
    ws.scales = None  # the scales are the first relaxation's of this solve
    keys = p.every_arc() if exact else None
    repair_arcs = None
    if (
        not exact
        and n * m >= DUAL
        and not p.trips.any()  # hours the same whoever serves the account
        and ws.warm_for(p) is None
    ):
        keys, repair_arcs = dual_start(p, p.tolerance)
    relaxed = relax(p, ws, p.tolerance, keys)
    if relaxed.status == "infeasible":
        if rounding_only or not explain:
            raise InfeasibleRequest("the LP relaxation is infeasible")
        raise InfeasibleRequest(*diagnose(p, ws))
    if relaxed.status != "optimal":
        raise RuntimeError(f"the LP solver stopped: {relaxed.status}")
    model = relaxed.model
    prices = lp.multipliers(p, ws.scales, model)
    x = np.asarray(model.highs.getSolution().col_value)[model.base :]
    rows, cols = model.rows, model.cols
    split = np.zeros(n, bool)
    split[rows[(x > 1e-6) & (x < 1 - 1e-6)]] = True
    red = lp.reduced_costs(p, ws.scales, model, rows, cols)
    point = LPPoint(model, rows * m + cols, x, red, split, relaxed.bound)
    rounded = integer(
        p, ws, point, exact and not quick, limit, quick, repair_arcs, rounding_only, explain
    )
    check(p, ws, rounded.assign, explain)
    assign, method = rounded.assign, rounded.method
    if tidy_edges and p.settings["tidy"] > 0 and not quick and not rounding_only:
        tidied = tidy(p, assign, strength=p.settings["tidy"], limit=limit)
        changed = int((tidied != assign).sum())
        if changed:
            assign, method = tidied, f"{method}, then {changed:,} accounts at edges tidied"
    return Solution(assign, rounded.bound, method, prices, ws.scales)
