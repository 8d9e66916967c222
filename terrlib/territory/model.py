"""The linear model in HiGHS column form: named row blocks, arc columns, reduced costs and
pricing.

Rows, in order (:class:`Rows`): one per free account (assigned once), the total hours ``H``,
each territory's workload above (``up``) and below (``lo``) its band, each territory's
potential (``pot``), optionally each territory's account limit (``cnt``) and the cap on moves
(``cap``). Columns: ``H``, then (elastic models) a penalised slack on every balance row, then
one column per arc. Every quantity is scaled (:class:`Scales`) so that an average arc has
hours, potential and cost 1.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import highspy
import numpy as np

from terrlib.territory.problem import TerritoryProblem

INF = highspy.kHighsInf


@dataclass(frozen=True)
class Scales:
    """An average arc's hours, an average account's potential and an average arc's cost, and
    the cost of a unit of slack in an elastic model."""

    hours: float
    potential: float
    cost: float
    penalty: float

    @classmethod
    def of(cls, problem: TerritoryProblem, keys: np.ndarray) -> Scales:
        """The scales of the arcs ``keys``."""
        v = problem.arc_values(keys // problem.m, keys % problem.m)
        cost = float(v["cost"].mean()) or 1.0
        # a unit of slack (an average account's hours or potential) costs this many average
        # arcs: far more than any assignment could save
        return cls(
            hours=float(v["hours"].mean()) or 1.0,
            potential=float(problem.potential.mean()) or 1.0,
            cost=cost,
            penalty=1e3 * max(1.0, float(v["cost"].max() / cost)),
        )


@dataclass(frozen=True)
class Rows:
    """Row numbers of the model's blocks; ``row_of[i]`` is free account i's row (-1 when it
    is fixed) and ``count`` the number of rows."""

    row_of: np.ndarray
    nf: int
    h: int
    up: int
    lo: int
    pot: int
    cnt: int
    cap: int
    count: int

    @classmethod
    def over(cls, problem: TerritoryProblem, free_acc: np.ndarray) -> Rows:
        """The blocks of a model over the free accounts ``free_acc``."""
        n, m = problem.n, problem.m
        row_of = np.full(n, -1)
        row_of[free_acc] = np.arange(len(free_acc))
        nf = len(free_acc)
        pot = nf + 1 + 2 * m
        cnt = pot + m
        cap = cnt + (m if problem.max_accounts is not None else 0)
        count = cap + (1 if np.isfinite(problem.cap) else 0)
        return cls(row_of, nf, nf, nf + 1, nf + 1 + m, pot, cnt, cap, count)


@dataclass
class Model:
    """A (mixed-integer) linear model in HiGHS, and what its columns mean."""

    rows: np.ndarray  # account of each arc column
    cols: np.ndarray  # territory of each arc column
    highs: highspy.Highs
    layout: Rows
    base: int  # columns before the first arc: H, then the elastic slacks


def arc_columns(problem: TerritoryProblem, sc: Scales, rows, cols, lay: Rows):
    """Costs and CSC pieces (starts, indices, values) of the arc columns."""
    v = problem.arc_values(rows, cols)
    h = v["hours"] / sc.hours
    ri = [lay.row_of[rows], np.full(len(rows), lay.h), lay.up + cols, lay.lo + cols]
    ri.append(lay.pot + cols)
    vals = [np.ones(len(rows)), h, h, h, problem.potential[rows] / sc.potential]
    if problem.max_accounts is not None:
        ri.append(lay.cnt + cols)
        vals.append(np.ones(len(rows)))
    if np.isfinite(problem.cap):
        ri.append(np.full(len(rows), lay.cap))
        vals.append(v["moved"])
    per = len(ri)
    starts = np.arange(len(rows)) * per
    return v["cost"] / sc.cost, starts, np.stack(ri, 1).ravel(), np.stack(vals, 1).ravel()


def _fixed_part(problem: TerritoryProblem, sc: Scales, fixed: np.ndarray | None):
    """What the accounts fixed in ``fixed`` add to each row, and the free accounts."""
    m = problem.m
    zero = {"h": np.zeros(m), "p": np.zeros(m), "n": np.zeros(m), "moved": 0.0, "cost": 0.0}
    if fixed is None:
        return zero, np.arange(problem.n)
    fix = np.flatnonzero(fixed >= 0)
    fv = problem.arc_values(fix, fixed[fix])
    part = {
        "h": np.bincount(fixed[fix], weights=fv["hours"] / sc.hours, minlength=m),
        "p": np.bincount(fixed[fix], weights=problem.potential[fix] / sc.potential, minlength=m),
        "n": np.bincount(fixed[fix], minlength=m).astype(float),
        "moved": float(fv["moved"].sum()),
        "cost": float(fv["cost"].sum() / sc.cost),
    }
    return part, np.flatnonzero(fixed < 0)


def _row_bounds(problem: TerritoryProblem, sc: Scales, lay: Rows, const: dict):
    """Lower and upper bounds of every row, and the bounds of the ``H`` column."""
    m, s, b = problem.m, problem.share, problem.bands()
    total_p = problem.total(1, problem.potential.sum()) / sc.potential
    lower, upper = np.full(lay.count, -INF), np.full(lay.count, INF)
    lower[: lay.nf] = upper[: lay.nf] = 1.0
    lower[lay.h] = upper[lay.h] = -const["h"].sum()
    h_col = (0.0, INF)
    fixed_h = problem.total(0, None)
    if fixed_h is not None:
        # fixed targets: H is a constant, the total is free
        lower[lay.h], upper[lay.h] = -INF, INF
        h_col = (fixed_h / sc.hours,) * 2
    upper[lay.up : lay.up + m] = -const["h"]
    lower[lay.lo : lay.lo + m] = -const["h"]
    lower[lay.pot : lay.pot + m] = (1 - b.p_lo) * s * total_p - const["p"]
    upper[lay.pot : lay.pot + m] = (1 + b.p_hi) * s * total_p - const["p"]
    if problem.max_accounts is not None:
        lim = problem.max_accounts
        upper[lay.cnt : lay.cnt + m] = np.where(np.isfinite(lim), lim, INF) - const["n"]
    if np.isfinite(problem.cap):
        upper[lay.cap] = problem.cap - const["moved"]
    return lower, upper, h_col


def build(
    problem: TerritoryProblem,
    sc: Scales,
    keys: np.ndarray,
    tol: float,
    integer: bool = False,
    fixed: np.ndarray | None = None,
    elastic: bool = False,
) -> Model:
    """The LP (or MILP) over arcs ``keys`` with workload band ``tol``. Accounts with
    ``fixed[i] >= 0`` are fixed to that territory and enter as constants; the rest are free
    over their arcs. With ``elastic`` slacks the LP is always feasible and its duals price the
    arcs a feasible solution needs."""
    m = problem.m
    rows, cols = keys // m, keys % m
    const, free_acc = _fixed_part(problem, sc, fixed)
    lay = Rows.over(problem, free_acc)
    s = problem.share
    # base columns: H, then slacks
    band = problem.bands(tol)
    b_rows = [np.r_[lay.h, lay.up + np.arange(m), lay.lo + np.arange(m)]]
    b_vals = [np.r_[-1.0, -(1 + band.w_hi) * s, -(1 - band.w_lo) * s]]
    if elastic:
        side = np.arange(lay.h + 1, lay.count)
        b_rows += [[r] for r in side] + [[r] for r in side]
        b_vals += [[-1.0]] * len(side) + [[1.0]] * len(side)
    n_base = len(b_rows)
    base_cost = np.r_[0.0, np.full(n_base - 1, sc.penalty)]
    b_start = np.cumsum([0] + [len(r) for r in b_rows])[:-1]
    cost, starts, idx, vals = arc_columns(problem, sc, rows, cols, lay)
    lower, upper, h_col = _row_bounds(problem, sc, lay, const)
    n_base_nz = int(sum(len(r) for r in b_rows))
    lp = highspy.HighsLp()
    lp.num_col_ = n_base + len(rows)
    lp.num_row_ = lay.count
    lp.col_cost_ = np.r_[base_cost, cost]
    lp.col_lower_ = np.r_[h_col[0], np.zeros(lp.num_col_ - 1)]
    lp.col_upper_ = np.r_[h_col[1], np.full(n_base - 1, INF), np.ones(len(rows))]
    lp.row_lower_ = lower
    lp.row_upper_ = upper
    lp.offset_ = const["cost"]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.r_[b_start, starts + n_base_nz, len(idx) + n_base_nz]
    lp.a_matrix_.index_ = np.r_[np.concatenate(b_rows), idx].astype(np.int32)
    lp.a_matrix_.value_ = np.r_[np.concatenate(b_vals), vals]
    lp.a_matrix_.num_col_ = lp.num_col_
    lp.a_matrix_.num_row_ = lay.count
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kContinuous] * n_base + [
            highspy.HighsVarType.kInteger
        ] * len(rows)
    hs = new_highs()
    hs.passModel(lp)
    return Model(rows, cols, hs, lay, n_base)


_BANNER_SHOWN = False


def new_highs() -> highspy.Highs:
    """A silent, single-threaded, seeded HiGHS. HiGHS prints a banner from C++ when the
    process makes its first solver object; that one is made with stdout pointed at
    /dev/null, so it stays out of reports (done on first use, not on import)."""
    global _BANNER_SHOWN
    if not _BANNER_SHOWN:
        sys.stdout.flush()
        saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(null)
            os.close(saved)
        _BANNER_SHOWN = True
    hs = highspy.Highs()
    hs.setOptionValue("output_flag", False)
    hs.setOptionValue("random_seed", 0)
    hs.setOptionValue("threads", 1)
    return hs


def add_arcs(problem: TerritoryProblem, sc: Scales, model: Model, keys: np.ndarray) -> None:
    """Append arc columns to a model; HiGHS then restarts from its last basis."""
    rows, cols = keys // problem.m, keys % problem.m
    cost, starts, idx, vals = arc_columns(problem, sc, rows, cols, model.layout)
    model.highs.addCols(
        len(rows),
        cost,
        np.zeros(len(rows)),
        np.ones(len(rows)),
        len(idx),
        starts.astype(np.int32),
        idx.astype(np.int32),
        vals,
    )
    model.rows = np.r_[model.rows, rows]
    model.cols = np.r_[model.cols, cols]


def reduced_costs(problem: TerritoryProblem, sc: Scales, model: Model, rows, cols) -> np.ndarray:
    """Reduced costs (scaled) of arbitrary arcs under the model's duals."""
    lay = model.layout
    y = np.asarray(model.highs.getSolution().row_dual)
    v = problem.arc_values(rows, cols)
    red = (
        v["cost"] / sc.cost
        - y[lay.row_of[rows]]
        - v["hours"] / sc.hours * (y[lay.h] + y[lay.up + cols] + y[lay.lo + cols])
        - problem.potential[rows] / sc.potential * y[lay.pot + cols]
    )
    if problem.max_accounts is not None:
        red -= y[lay.cnt + cols]
    if np.isfinite(problem.cap):
        red -= v["moved"] * y[lay.cap]
    return red


def price(problem: TerritoryProblem, sc: Scales, model: Model, keys, chunk: int = 2_000_000):
    """Every arc left out priced in chunks: (each account's most negative arc, the
    Lagrangian correction sum_i min(0, min_k reduced cost))."""
    m = problem.m
    free = np.flatnonzero(~problem.locked)
    per = max(1, chunk // m)
    found, correction = [], 0.0
    for start in range(0, len(free), per):
        acc = free[start : start + per]
        rows = np.repeat(acc, m)
        cols = np.tile(np.arange(m), len(acc))
        ck = rows * m + cols
        pos = np.minimum(np.searchsorted(keys, ck), len(keys) - 1)
        red = reduced_costs(problem, sc, model, rows, cols)
        red[(keys[pos] == ck) | ~problem.allowed(rows, cols)] = np.inf
        red2 = red.reshape(len(acc), m)
        best = red2.argmin(axis=1)
        low = red2[np.arange(len(acc)), best]
        correction += float(np.minimum(low, 0).sum())
        found.append((acc * m + best)[low < -1e-9])
    new = np.concatenate(found) if found else np.zeros(0, int)
    return new, correction


def multipliers(problem: TerritoryProblem, sc: Scales, model: Model) -> dict[str, np.ndarray]:
    """The LP's multipliers of each territory's rows in cost per unit (hours above and
    below the band, potential above and below, accounts over the limit; all >= 0) and
    of the moved cap (``moved``), for a Lagrangian bound of a larger plan."""
    lay, m = model.layout, problem.m
    y = np.asarray(model.highs.getSolution().row_dual)
    pot = y[lay.pot : lay.pot + m]
    out = {
        "hours_over": np.maximum(-y[lay.up : lay.up + m], 0) * sc.cost / sc.hours,
        "hours_under": np.maximum(y[lay.lo : lay.lo + m], 0) * sc.cost / sc.hours,
        "potential_over": np.maximum(-pot, 0) * sc.cost / sc.potential,
        "potential_under": np.maximum(pot, 0) * sc.cost / sc.potential,
        "count": np.zeros(m),
        "moved": np.zeros(1),
    }
    if problem.max_accounts is not None:
        out["count"] = np.maximum(-y[lay.cnt : lay.cnt + m], 0) * sc.cost
    if np.isfinite(problem.cap):
        out["moved"] = np.maximum(-y[lay.cap : lay.cap + 1], 0) * sc.cost
    return out
