"""Local search by single moves: repair an assignment into its bands, then improve it."""

from __future__ import annotations

import numpy as np

from terrlib.territory.problem import TerritoryProblem


def repair(problem: TerritoryProblem, assign: np.ndarray, rows, cols) -> np.ndarray:
    """Single moves along the arcs ``rows``, ``cols`` that cut the total band breach, each
    time the cheapest of those that cut it by at least a quarter of the best possible cut,
    never breaking the cap on moved accounts."""
    p, m = problem, problem.m
    assign = assign.copy()
    arc = p.arc_values(rows, cols)
    p_arc = p.potential[rows]
    own, hours, pot, count = p.loads(assign)
    own_h, own_c, own_mv = own["hours"], own["cost"], own["moved"]
    moved = own_mv.sum()
    p_t = p.targets(0.0, pot.sum())[1]
    movable = ~p.locked[rows]
    lim = p.account_limits()
    for _ in range(20 * m + 1000):
        h_t = p.targets(hours.sum(), 0.0)[0]
        e = p.excess(hours, pot, count, h_t, p_t, lim)
        if e.sum() <= 1e-12:
            break
        bad = e > 0
        j = np.flatnonzero(movable & (cols != assign[rows]) & (bad[assign[rows]] | bad[cols]))
        i, a, k = rows[j], assign[rows[j]], cols[j]
        la, lk = (None, None) if lim is None else (lim[a], lim[k])
        d_v = (
            p.excess(hours[a] - own_h[i], pot[a] - p_arc[j], count[a] - 1, h_t[a], p_t[a], la, a)
            - e[a]
            + p.excess(
                hours[k] + arc["hours"][j], pot[k] + p_arc[j], count[k] + 1, h_t[k], p_t[k], lk, k
            )
            - e[k]
        )
        d_mv = arc["moved"][j] - own_mv[i]
        ok = (d_v < -1e-12) & (moved + d_mv <= p.cap)
        if not ok.any():
            break
        good = ok & (-d_v >= 0.25 * (-d_v[ok].min()))
        d_c = arc["cost"][j] - own_c[i]
        pick = np.flatnonzero(good)[np.argmin(d_c[good])]
        jj, ii, aa, kk = j[pick], i[pick], a[pick], k[pick]
        hours[aa] -= own_h[ii]
        hours[kk] += arc["hours"][jj]
        pot[aa] -= p_arc[jj]
        pot[kk] += p_arc[jj]
        count[aa] -= 1
        count[kk] += 1
        moved += d_mv[pick]
        own_h[ii], own_c[ii], own_mv[ii] = arc["hours"][jj], arc["cost"][jj], arc["moved"][jj]
        assign[ii] = kk
    return assign


def _allowed_moves(problem: TerritoryProblem, assign, rows, arc, p_arc, cost_scale):
    """The single moves that lower the objective and keep every band (against targets kept
    a hair inside the tolerance): their arc positions, from and to territories, cost change,
    and the loads they were judged on."""
    p = problem
    b = p.bands(p.tolerance * 0.999, p.p_tol * 0.999)
    cols = arc["cols"]
    own, hours, pot, count = p.loads(assign)
    moved = own["moved"].sum()
    h_t, p_t = p.targets(hours.sum(), pot.sum())
    d_c = arc["cost"] - own["cost"][rows]
    j = np.flatnonzero(~p.locked[rows] & (cols != assign[rows]) & (d_c < -1e-9 * cost_scale))
    i, a, k = rows[j], assign[rows[j]], cols[j]
    ha, hk = hours[a] - own["hours"][i], hours[k] + arc["hours"][j]
    pa, pk = pot[a] - p_arc[j], pot[k] + p_arc[j]
    ok = (
        (ha >= (1 - b.w_lo[a]) * h_t[a])
        & (hk <= (1 + b.w_hi[k]) * h_t[k])
        & (ha <= (1 + b.w_hi[a]) * h_t[a])
        & (hk >= (1 - b.w_lo[k]) * h_t[k])
        & (pa >= (1 - b.p_lo[a]) * p_t[a])
        & (pk <= (1 + b.p_hi[k]) * p_t[k])
        & (moved + arc["moved"][j] - own["moved"][i] <= p.cap)
    )
    if p.max_accounts is not None:
        ok &= count[k] + 1 <= p.max_accounts[k]
    return j[ok], a[ok], k[ok], d_c, own, moved


def improve(problem: TerritoryProblem, assign: np.ndarray, rows, cols, cost_scale: float):
    """Feasible single moves that lower the objective, many per round (at most one into or
    out of each territory), until none is left. Bands are checked against targets kept a hair
    inside the tolerance, and the result is checked exactly at the end; ``cost_scale`` (an
    average arc's cost) sets what counts as lower."""
    p, m = problem, problem.m
    start = assign.copy()
    assign = assign.copy()
    arc = p.arc_values(rows, cols) | {"cols": cols}
    p_arc = p.potential[rows]
    for _ in range(200):
        j, a, k, d_c, own, moved = _allowed_moves(p, assign, rows, arc, p_arc, cost_scale)
        if not len(j):
            break
        order = np.argsort(d_c[j], kind="stable")
        used = np.zeros(m, bool)
        budget = p.cap - moved
        changed = False
        for o in order:
            if used[a[o]] or used[k[o]]:
                continue
            extra = arc["moved"][j[o]] - own["moved"][rows[j[o]]]
            if extra > budget:
                continue
            budget -= extra
            used[a[o]] = used[k[o]] = True
            assign[rows[j[o]]] = k[o]
            changed = True
        if not changed:
            break
    if p.evaluate(assign)["breach"] > 1e-9:
        assign = repair(p, assign, rows, cols)
        if p.evaluate(assign)["breach"] > 1e-9:
            return start
    return assign
