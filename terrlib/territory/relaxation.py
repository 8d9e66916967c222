"""The LP relaxation by column generation, and its certified lower bound.

The LP starts from a few arcs per account; the reduced cost of every arc left out is priced
with the LP's duals (:func:`terrlib.territory.model.price`) and the most negative are added
until none is left, so the LP value bounds the full problem from below. While pricing is
unfinished the Lagrangian bound ``LP + sum_i min(0, min_k reduced cost)`` is used, which is
valid too.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from terrlib.territory import model as lp
from terrlib.territory.problem import TerritoryProblem


@dataclass
class Workspace:
    """What the steps of one solve share: the LP's scales (set by its first relaxation)
    and a warm start, the arcs and basis of the last optimal relaxation, which a later
    relaxation of a problem of the same size starts from (kept across solves: the what-if
    panel and the from-scratch rounds re-solve warm)."""

    scales: lp.Scales | None = None
    warm: tuple | None = None

    def warm_for(self, problem: TerritoryProblem) -> tuple | None:
        """The warm start, when it was made on a problem of this size."""
        if self.warm is not None and self.warm[0] == (problem.n, problem.m):
            return self.warm
        return None


@dataclass
class Relaxation:
    """A solved (or failed) relaxation: the model, its arcs (sorted keys), ``status``
    ("optimal", "infeasible" when it still needs slack after every arc was priced, or the
    solver's status) and the bound in cost units."""

    model: lp.Model
    keys: np.ndarray
    status: str
    bound: float


def relax(
    problem: TerritoryProblem,
    ws: Workspace,
    tol: float,
    keys: np.ndarray | None = None,
    rel: float = 1e-5,
    hard_cap: bool = False,
) -> Relaxation:
    """The LP relaxation with workload band ``tol`` by column generation. Pricing stops once
    the Lagrangian bound is within ``rel`` of the LP value; the bound returned is valid either
    way. Starts from ``keys``, else from the warm start, else from each account's nearest
    homes. With ``hard_cap`` only the territories' rows may take slack, not the cap on
    moves (to see which territories cannot be balanced within it)."""
    basis = None
    warm = ws.warm_for(problem)
    if keys is None and warm is not None:
        keys, basis = warm[1], warm[2]  # the last solve's arcs, in its column order
        valid = problem.valid_arcs(keys)
        if not valid.all():  # another request (new locks, a shorter reach): its arcs only
            keys, basis = np.union1d(keys[valid], problem.candidate_arcs(1)), None
    keys = problem.candidate_arcs(problem.settings["candidates"]) if keys is None else keys
    if ws.scales is None:
        ws.scales = lp.Scales.of(problem, keys)
    sc = ws.scales
    model = lp.build(problem, sc, keys, tol, elastic=True)
    if hard_cap and np.isfinite(problem.cap):
        side = model.base // 2  # slack columns: 1..side below, side+1..2 side above
        for col in (side, 2 * side):  # the cap is the last row
            model.highs.changeColBounds(col, 0.0, 0.0)
    keys = np.sort(keys)
    if (
        basis is not None
        and len(basis.col_status) == model.highs.getNumCol()
        and len(basis.row_status) == model.highs.getNumRow()
    ):
        model.highs.setBasis(basis)
    bound = -np.inf
    for _ in range(50):
        model.highs.run()
        status = model.highs.getModelStatus()
        if status == highspy.HighsModelStatus.kUnknown:
            # the simplex gave up (a warm basis from another request can leave it
            # ill-conditioned): once more from scratch, with the interior-point method
            model.highs.clearSolver()
            model.highs.setOptionValue("solver", "ipm")
            model.highs.run()
            model.highs.setOptionValue("solver", "choose")
            status = model.highs.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            return Relaxation(model, keys, str(status), bound)
        value = model.highs.getInfo().objective_function_value
        new, correction = lp.price(problem, sc, model, keys)
        bound = max(bound, (value + correction) * sc.cost)
        if not len(new) or -correction <= rel * max(abs(value), 1.0):
            break
        keys = np.union1d(keys, new)
        lp.add_arcs(problem, sc, model, new)
    slack = np.asarray(model.highs.getSolution().col_value)[1 : model.base]
    if slack.size and slack.max() > 1e-7:
        return Relaxation(model, keys, "infeasible", bound)
    arcs = model.rows * problem.m + model.cols
    ws.warm = ((problem.n, problem.m), arcs, model.highs.getBasis())
    return Relaxation(model, keys, "optimal", bound)
