"""MILP steps: an exact MILP around a rounding, over groups of neighbouring territories
(fix and optimise), and the mend of bands single moves could not repair.

The MILPs that polish a proposal stop on counts of branch-and-bound nodes and of solves, not
on seconds, so the same request gives the same proposal on any machine; their time limits
are only a safety net.
"""

from __future__ import annotations

import time

import highspy
import numpy as np

from terrlib.territory import model as lp
from terrlib.territory.problem import TerritoryProblem

#: branch-and-bound nodes of a MILP that polishes a rounded proposal: a cap on work, not on
#: seconds
POLISH_NODES = 20
#: nodes of the MILP over every account (small plans) or over a growing set of them: on
#: generated plans of 300 x 8 to 1,000 x 5 accounts x territories that MILP ran to a 30-second
#: time limit in 11 of 12 cases (357 to 4,318 nodes), so the machine's speed decided the
#: proposal; 100 nodes stop at the same plan on any machine, in 7-16 s there (gaps 0.3-2.0%,
#: the same as with 200 nodes)
EXACT_NODES = 100
#: nodes of the MILP over every account when :data:`EXACT_NODES` stopped without a plan
#: (that is no proof there is none): on a 900 x 20 green field whose short territories were
#: left open, 100 nodes found nothing where 1,000 found a plan (gap 4.5%) in 19 s
DEEP_NODES = 1000
#: the most free accounts a mend re-solves at once: on the demo's green field a mend over 26
#: territories and 3,927 accounts ran to its 30-second safety limit and found nothing, while
#: mends over 10 territories and 1,931 accounts found a plan in 5-8 s
MEND_ACCOUNTS = 2_500


def capped(hs: highspy.Highs, limit: float, nodes: int | None, gap: float) -> None:
    """Set a MILP's limits: ``limit`` seconds, at most ``nodes`` branch-and-bound nodes
    (None: no cap), stop within ``gap`` of its bound; and no presolve nor restart, and
    only a light presolve in the heuristics' sub-MIPs. HiGHS 1.16's full presolve
    (strengthenInequalities, also in a restart and in the RENS and RINS heuristics'
    sub-MIPs) can run for many minutes without checking the time limit: a 30 s mend on a
    900-account green-field plan ran past 10 minutes, and so did one of the diagnosis's
    20-second MILPs (HiGHS issues 2226, 1501), and a mend on the small demo's 2025Q2
    curve ran past 20 (the light presolve settles that MILP in 0.9 s). Without those
    heuristics the demo's 2026Q3 plan took 167 s at an 11.9% gap; with the light
    presolve 62 s at 1.2% (14 s at 2.7% with the full one)."""
    hs.setOptionValue("time_limit", float(limit))
    hs.setOptionValue("mip_rel_gap", float(gap))
    hs.setOptionValue("mip_allow_restart", False)
    hs.setOptionValue("presolve", "off")
    # the RENS and RINS heuristics solve sub-MIPs with presolve forced on, and a full one
    # can run for ever there: a mend on a 900-account plan's disruption curve ran past 20
    # minutes in strengthenInequalities. Sub-MIPs copy this light presolve, which ends
    hs.setOptionValue("presolve_mode", 2)
    if nodes is not None:
        hs.setOptionValue("mip_max_nodes", int(nodes))


def run_milp(
    problem: TerritoryProblem,
    sc: lp.Scales,
    model: lp.Model,
    fixed: np.ndarray,
    start: np.ndarray,
    limit: float,
    nodes=None,
    first: bool = False,
) -> np.ndarray | None:
    """Run a MILP from :func:`terrlib.territory.model.build` (accounts with ``fixed[i] >=
    0`` fixed there) started from assignment ``start`` (HiGHS drops a start that breaks a
    rule), within ``limit`` seconds and at most ``nodes`` branch-and-bound nodes; ``first``
    stops at the first feasible solution. Returns the assignment found when it keeps every
    rule, else None; the model's HiGHS object still holds the status and bound."""
    p, hs = problem, model.highs
    capped(hs, limit, nodes, 1e-4)
    if first:
        hs.setOptionValue("mip_max_improving_sols", 1)
    sol = highspy.HighsSolution()
    total = p.total(0, p.arc_values(np.arange(p.n), start)["hours"].sum())
    sol.col_value = list(np.r_[total / sc.hours, (model.cols == start[model.rows]).astype(float)])
    sol.value_valid = True
    hs.setSolution(sol)
    hs.run()
    if hs.getInfo().primal_solution_status != 2:
        return None
    x = np.asarray(hs.getSolution().col_value)[model.base :]
    found = fixed.copy()
    on = x > 0.5
    found[model.rows[on]] = model.cols[on]
    ok = (found >= 0).all() and p.evaluate(found)["breach"] <= 1e-9
    return found if ok else None


def milp_around(
    problem: TerritoryProblem,
    sc: lp.Scales,
    assign,
    keys,
    x,
    red,
    cheapest,
    size,
    limit,
    start=None,
    nodes=None,
    first=False,
) -> dict:
    """A MILP over the ``size`` accounts with the cheapest alternative to their LP territory
    (every free account when ``size`` is n), the rest fixed as in ``assign``, on the arcs the
    LP prices within reach, started from ``start`` (default ``assign``); accounts where the
    two differ are free too, so a feasible ``start`` is a feasible start. Returns the
    feasible assignment found (or None), how many accounts were free, whether the MILP was
    solved to optimality or timed out, and its bound in cost units. ``nodes`` caps the
    branch-and-bound nodes, so that unless the time limit comes first the result does not
    depend on the machine's speed; ``first`` stops at the first plan that keeps every
    rule."""
    p, n, m = problem, problem.n, problem.m
    rows, cols = keys // m, keys % m
    if size >= n:
        free, theta = ~p.locked, np.inf
    else:
        theta = np.partition(cheapest, size - 1)[size - 1]
        free = cheapest <= theta
    start = assign if start is None else start
    free = free | ((start != assign) & ~p.locked)
    fixed = np.where(free, -1, assign)
    arc_ok = free[rows] & (
        (red <= theta)
        | (x > 1e-6)
        | (cols == p.current[rows])
        | (cols == assign[rows])
        | (cols == start[rows])
    )
    model = lp.build(p, sc, keys[arc_ok], p.tolerance, integer=True, fixed=fixed)
    hs = model.highs
    found = run_milp(p, sc, model, fixed, start, limit, nodes, first)
    info, status = hs.getInfo(), hs.getModelStatus()
    optimal = status == highspy.HighsModelStatus.kOptimal
    dual = (
        info.mip_dual_bound if not optimal else info.objective_function_value * (1 - info.mip_gap)
    )
    return {
        "found": found,
        "free": int(free.sum()),
        "optimal": optimal,
        "timed_out": status == highspy.HighsModelStatus.kTimeLimit,
        # stopped at its node cap (neither a proof nor out of time)
        "stopped": status
        not in (
            highspy.HighsModelStatus.kOptimal,
            highspy.HighsModelStatus.kTimeLimit,
            highspy.HighsModelStatus.kInfeasible,
        ),
        "bound": dual * sc.cost,
    }


def regroup(
    problem: TerritoryProblem,
    sc: lp.Scales,
    assign: np.ndarray,
    group: np.ndarray,
    limit: float,
    arcs: int = 4,
    nodes: int | None = None,
    first: bool = False,
):
    """The accounts of territories ``group`` re-assigned among them by an exact MILP (each
    over its ``arcs`` cheapest territories of the group and its own), every other account
    fixed, started from ``assign``. Returns the assignment found when it keeps every rule,
    else None. ``nodes`` caps the branch-and-bound nodes; ``first`` stops at the first
    solution that keeps every rule (for repair, where any will do)."""
    p, m = problem, problem.m
    free = np.isin(assign, group) & ~p.locked
    acc = np.flatnonzero(free)
    if not len(acc):
        return None
    rows = np.repeat(acc, len(group))
    cols = np.tile(group, len(acc))
    cost = p.arc_values(rows, cols)["cost"].reshape(len(acc), len(group))
    cost[~p.allowed(rows, cols).reshape(cost.shape)] = np.inf
    keep = np.argsort(cost, axis=1, kind="stable")[:, : min(arcs, len(group))]
    ok = np.take_along_axis(cost, keep, axis=1) < np.inf
    keys = np.unique(np.r_[(acc[:, None] * m + group[keep])[ok], acc * m + assign[acc]])
    fixed = np.where(free, -1, assign)
    model = lp.build(p, sc, keys, p.tolerance, integer=True, fixed=fixed)
    return run_milp(p, sc, model, fixed, assign, limit, nodes, first)


def mend(problem: TerritoryProblem, sc: lp.Scales, assign, limit: float, reach: int = 4):
    """Repair by MILP what single moves could not: the territories still outside a band and
    their ``reach - 1`` nearest neighbours are re-solved together (see :func:`regroup`).
    None when that finds nothing within ``limit`` seconds, or when those territories hold
    over :data:`MEND_ACCOUNTS` free accounts."""
    p = problem
    v, hours, pot, count = p.loads(assign)
    e = p.excess(hours, pot, count, *p.targets(hours.sum(), pot.sum()), p.account_limits())
    bad = np.flatnonzero(e > 0)
    if not len(bad) or (np.isfinite(p.cap) and v["moved"].sum() > p.cap):
        return None
    group = np.unique(p.near_territories(reach)[bad])
    if (np.isin(assign, group) & ~p.locked).sum() > MEND_ACCOUNTS:
        return None  # too large to settle by a node-capped MILP: narrower bands instead
    return regroup(p, sc, assign, group, limit, arcs=3, nodes=POLISH_NODES, first=True)


def neighbourhoods(
    problem: TerritoryProblem,
    sc: lp.Scales,
    assign: np.ndarray,
    deadline: float,
    limit: float = 10.0,
    largest: int = 4,
    accounts: int = 800,
    solves: int | None = None,
) -> np.ndarray:
    """Fix and optimise: the accounts of a territory and its nearest neighbours (by rep
    home) are re-assigned among those territories by an exact MILP, every other account
    fixed, started from the current assignment (so it never gets worse). Territories are
    visited dearest first; pairs first, and each time a pass finds nothing the groups grow
    by one territory, up to ``largest``. Stops after ``solves`` MILPs (default: one per two
    territories, at least 10): a count rather than a time, so the result does not depend on
    the machine; ``deadline`` (and ``limit`` seconds a MILP) is only a safety net. Groups
    over ``accounts`` free accounts are skipped."""
    p, n, m = problem, problem.n, problem.m
    if m < 2:
        return assign
    near = p.near_territories(largest)
    seen: set = set()
    size = 2
    solves = max(10, m // 2) if solves is None else solves
    while size <= near.shape[1] and time.perf_counter() < deadline and solves > 0:
        improved = False
        cost = p.arc_values(np.arange(n), assign)["cost"]
        for k in np.argsort(-np.bincount(assign, weights=cost, minlength=m), kind="stable"):
            left = deadline - time.perf_counter()
            if left <= 0.05 or solves <= 0:
                break
            group = np.unique(near[k, :size])
            acc = np.flatnonzero(np.isin(assign, group) & ~p.locked)
            key = (tuple(group.tolist()), hash(acc.tobytes()), hash(assign[acc].tobytes()))
            if key in seen or not 0 < len(acc) <= accounts:
                continue
            seen.add(key)
            solves -= 1
            trial = regroup(p, sc, assign, group, min(limit, left), arcs=size, nodes=POLISH_NODES)
            if trial is not None and p.evaluate(trial)["objective"] < p.evaluate(assign)[
                "objective"
            ] * (1 - 1e-9):
                assign, improved = trial, True
        if not improved:
            size += 1
    return assign
