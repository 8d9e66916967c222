"""From the LP to an integer assignment: rounding with a band-shrink schedule, repair,
polish, and the growing MILP when nothing else keeps the rules.

Rounding the LP breaks bands where the split accounts are large (and a territory at the edge of
its band leaves no room), so the LP is re-solved with bands shrunk a little more each time
(:data:`SCHEDULE`) until its rounding, repaired with single moves (and, unless ``quick``, by a
MILP over the territories still out of band), meets every band; it is then improved by
feasible single moves. Unless ``quick``, a MILP re-solves the LP's own rounding around its
least-decided accounts, and MILPs over groups of neighbouring territories polish the best. A
MILP over growing sets of accounts takes over when nothing is feasible, and on small instances
(``exact``) one sees every account.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from terrlib.territory import model as lp
from terrlib.territory import polish, search
from terrlib.territory.diagnose import diagnose
from terrlib.territory.problem import InfeasibleRequest, TerritoryProblem
from terrlib.territory.relaxation import Workspace

#: The widths, as shares of each band, at which the LP is re-solved and rounded, in turn,
#: until a rounding can be repaired into every band. The one place to change the rounding.
SCHEDULE = (1.0, 0.95, 0.85, 0.7, 0.5, 0.25)
#: gap below which a feasible plan is not polished further
POLISH_GAP = 0.005


@dataclass
class LPPoint:
    """The relaxation's solution as the rounding reads it: the model, its arcs (keys), their
    values ``x`` and reduced costs, which accounts it splits, and its bound."""

    model: lp.Model
    keys: np.ndarray
    x: np.ndarray
    red: np.ndarray
    split: np.ndarray
    bound: float


@dataclass
class Rounded:
    """An integer assignment, how it was found, and the bound (raised when a MILP saw every
    account and arc)."""

    assign: np.ndarray
    method: str
    bound: float


def tighten(problem: TerritoryProblem, sc: lp.Scales, model: lp.Model, factor: float) -> bool:
    """Re-solve the LP with every band (and the moved cap) shrunk to ``factor`` of its
    width, warm-started, pricing in arcs while it needs slack; True when it is then
    feasible without slack."""
    p, hs, lay, m, s = problem, model.highs, model.layout, problem.m, problem.share
    # the plan's bands shrink; a territory's own wider tolerance (one the rules cannot
    # balance) stays as it is
    b = p.bands(p.tolerance * factor, min(p.p_tol, 10.0) * factor)
    for k in range(m):
        hs.changeCoeff(lay.up + k, 0, -(1 + b.w_hi[k]) * s[k])
        hs.changeCoeff(lay.lo + k, 0, -(1 - b.w_lo[k]) * s[k])
    total_p = p.total(1, p.potential.sum()) / sc.potential
    idx = (lay.pot + np.arange(m)).astype(np.int32)
    hs.changeRowsBounds(m, idx, (1 - b.p_lo) * s * total_p, (1 + b.p_hi) * s * total_p)
    if np.isfinite(p.cap):
        hs.changeRowBounds(lay.cap, -lp.INF, p.cap * (0.9 + 0.1 * factor))
    for _ in range(20):
        hs.run()
        if hs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return False
        slack = np.asarray(hs.getSolution().col_value)[1 : model.base]
        if slack.max(initial=0) <= 1e-7:
            return True
        # the narrower bands may need arcs the LP left out: price them in, as the
        # relaxation does, before calling the width infeasible
        new, _ = lp.price(p, sc, model, np.sort(model.rows * m + model.cols))
        if not len(new):
            return False
        lp.add_arcs(p, sc, model, new)
    return False


def round_lp(problem: TerritoryProblem, model: lp.Model) -> np.ndarray:
    """The LP solution rounded: each account to its largest part, its current territory on
    ties."""
    x = np.asarray(model.highs.getSolution().col_value)[model.base :]
    rows, cols = model.rows, model.cols
    weight = x + 1e-3 * (cols == problem.current[rows])
    best = np.full(problem.n, -1.0)
    np.maximum.at(best, rows, weight)
    top = weight >= best[rows]
    guess = np.zeros(problem.n, int)
    guess[rows[top]] = cols[top]
    return guess


def _rounded_by(repair: str, factor: float) -> str:
    return f"LP relaxation, rounding, {repair} and local search" + (
        "" if factor == 1 else f" (bands shrunk to {factor:.0%} for rounding)"
    )


def _schedule(problem, sc, point: LPPoint, arcs, limit, quick):
    """Round and repair along :data:`SCHEDULE`; (the best plan or None, its method, the
    LP's first rounding). A MILP mend that found nothing is not tried again at the next,
    barely narrower width (a failing mend costs the MILP's whole root node and node cap);
    a quick solve mends by MILP only when single moves fail at every width."""
    p, (r_rows, r_cols) = problem, arcs
    first = None
    left_out = []  # (factor, repaired rounding) that single moves left out of band
    failed = 2.0  # the band width whose MILP mend last found nothing
    for factor in SCHEDULE:
        if factor < 1 and not tighten(p, sc, point.model, factor):
            break
        rounded = round_lp(p, point.model)
        first = rounded if first is None else first
        repaired = search.repair(p, rounded, r_rows, r_cols)
        if p.evaluate(repaired)["breach"] > 1e-9 and not quick and factor <= failed - 0.1:
            mended = polish.mend(p, sc, repaired, limit)
            if mended is None:
                failed = factor
            else:
                repaired = mended
        if p.evaluate(repaired)["breach"] > 1e-9:
            left_out.append((factor, repaired))
            continue
        best = search.improve(p, repaired, r_rows, r_cols, sc.cost)
        return best, _rounded_by("repair", factor), first
    best, method = None, ""
    for factor, repaired in left_out:
        if not quick or best is not None:
            break
        mended = polish.mend(p, sc, repaired, limit)
        if mended is not None:
            best = search.improve(p, mended, r_rows, r_cols, sc.cost)
            method = _rounded_by("repair by MILP", factor)
    return best, method, first


def _polish(problem, sc, point: LPPoint, best, method, first, cheapest, size, limit, exact, dual):
    """The MILP around the LP's own rounding (not on ``exact`` or dual-started solves),
    then MILPs over groups of neighbouring territories; the plan and its method."""
    p = problem

    def gap(a: np.ndarray) -> float:
        score = p.evaluate(a)["objective"]
        return (score - point.bound) / max(score, 1e-12)

    if not exact and not dual and gap(best) > POLISH_GAP:
        # the LP's own rounding with its least-decided accounts (and those where the best
        # plan differs) re-solved exactly, started from the best plan
        run = polish.milp_around(
            p, sc, first, point.keys, point.x, point.red, cheapest, size, limit,
            start=best, nodes=polish.POLISH_NODES,
        )  # fmt: skip
        found = run["found"]
        if found is not None and p.evaluate(found)["objective"] < p.evaluate(best)["objective"]:
            best = found
            method = f"LP relaxation, rounding, then MILP on {run['free']:,} accounts" + (
                "" if run["optimal"] else f" (stopped at {polish.POLISH_NODES} nodes)"
            )
    if gap(best) > POLISH_GAP:
        # stops on its count of MILPs; the deadline is a safety net only
        polished = polish.neighbourhoods(p, sc, best, time.perf_counter() + 100 * limit, limit)
        if p.evaluate(polished)["objective"] < p.evaluate(best)["objective"]:
            best = polished
            method += ", then MILPs over groups of neighbouring territories"
    return best, method


def _grow(
    problem, sc, ws, point: LPPoint, assign, method, feasible, cheapest, size, limit, quick,
    explain=True,
):  # fmt: skip
    """MILPs over growing sets of accounts (all of them on ``exact``) from ``assign``, until
    one keeps every rule; the :class:`Rounded` plan. Raises :class:`InfeasibleRequest` when
    even the MILP over every account finds nothing."""
    p, n = problem, problem.n
    bound = point.bound
    while True:
        # a quick solve takes the first plan that keeps every rule
        nodes = polish.EXACT_NODES
        run = polish.milp_around(
            p, sc, assign, point.keys, point.x, point.red, cheapest, size, limit,
            nodes=nodes, first=quick and not feasible,
        )  # fmt: skip
        if run["found"] is None and size >= n and run["stopped"] and not quick:
            nodes = polish.DEEP_NODES
            # stopped at its nodes without a plan is no proof there is none: deeper once
            run = polish.milp_around(
                p, sc, assign, point.keys, point.x, point.red, cheapest, size, limit,
                nodes=nodes,
            )  # fmt: skip
        found = run["found"]
        if found is not None:
            if not feasible or p.evaluate(found)["objective"] < p.evaluate(assign)["objective"]:
                assign, feasible = found, True
            if size >= n and len(point.keys) >= p.arc_count():
                # the MILP saw every arc and account: its bound holds for the problem
                bound = max(bound, run["bound"])
            stop = (
                ""
                if run["optimal"]
                else " (its first plan)"
                if quick
                else " (time limit)"
                if run["timed_out"]
                else f" (stopped at {nodes} nodes)"
            )
            what = "every account" if size >= n else f"{run['free']:,} accounts"
            method = f"LP relaxation, then MILP on {what}{stop}"
        if feasible:
            return Rounded(assign, method, bound)
        if size >= n:
            message, tightest = (
                diagnose(p, ws) if explain else ("the balance rules cannot all hold", None)
            )
            timed_out = (
                f"no assignment was found within the {limit:g}-second limit (the LP "
                "relaxation is feasible); "
            )
            raise InfeasibleRequest((timed_out if run["timed_out"] else "") + message, tightest)
        size = min(n, size * 4)


def integer(
    problem: TerritoryProblem,
    ws: Workspace,
    point: LPPoint,
    exact: bool,
    limit: float,
    quick: bool = False,
    repair_arcs: np.ndarray | None = None,
    rounding_only: bool = False,
    explain: bool = True,
) -> Rounded:
    """An integer assignment from the LP (see the module notes). ``repair_arcs`` (from
    :func:`terrlib.territory.dual.dual_start`) widens the arcs single moves may use beyond
    the LP's, and there the MILP around the LP's rounding is skipped: on 20,000 accounts x
    100 territories it took 17-26 s and never improved the plan, nor on 5,000 x 50.
    ``rounding_only`` keeps the first rounding that meets every rule and raises
    :class:`InfeasibleRequest` at once (without a diagnosis) when the schedule finds none: a
    fast, deterministic test of whether a request can be met."""
    p, n, m, sc = problem, problem.n, problem.m, ws.scales
    keys = point.keys
    wide = keys if repair_arcs is None else np.union1d(keys, repair_arcs)
    arcs = (wide // m, wide % m)  # the arcs single moves may use
    best, method, first = _schedule(p, sc, point, arcs, limit, quick or rounding_only)
    feasible = best is not None
    if rounding_only:
        if not feasible:
            raise InfeasibleRequest("no rounding of the LP meets every rule")
        return Rounded(best, method, point.bound)
    # each account's cheapest alternative to its LP territory (reduced cost)
    alt = np.where(point.x > 1 - 1e-6, np.inf, point.red)
    cheapest = np.full(n, np.inf)
    np.minimum.at(cheapest, keys // m, alt)
    cheapest[point.split] = -np.inf
    cheapest[p.locked] = np.inf
    size = min(n, max(400, 6 * int(point.split.sum()) + 200))
    if feasible and not quick:
        dual = repair_arcs is not None
        best, method = _polish(
            p, sc, point, best, method, first, cheapest, size, limit, exact, dual
        )
    if feasible and not exact:
        return Rounded(best, method, point.bound)
    assign = best if feasible else round_lp(p, point.model)
    size = n if exact else size
    grown = _grow(p, sc, ws, point, assign, method, feasible, cheapest, size, limit, quick, explain)
    if feasible or quick or exact:
        return grown
    # the plan a MILP found when no rounding kept every rule is its first one that does:
    # polished as a rounding's plan is (the demo's 2026Q2 with its short territories kept
    # whole: certified gap 11% unpolished, 2.2% polished)
    best, method = _polish(
        p, sc, point, grown.assign, grown.method, first if first is not None else grown.assign,
        cheapest, size, limit, exact, repair_arcs is not None,
    )  # fmt: skip
    return Rounded(best, method, grown.bound)
