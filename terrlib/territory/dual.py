"""Where a large LP starts: the arcs an approximate Lagrangian dual picks.

The balance rows are priced into the arcs: account i's reduced cost on territory k is
``c_ik + u_k h_ik + v_k p_i``, and the dual ``sum_i min_k (...)`` minus the bands' terms is
maximised over the multipliers ``u, v``. With the minimum smoothed to a soft minimum of
temperature ``eps`` (a share of the average arc's cost) the dual is smooth and concave, so
damped Newton steps (``2m`` unknowns) climb it; ``eps`` is lowered in stages (0.1, 0.03,
0.01). The arcs start as every account's 8 nearest homes and each territory's nearest
accounts (three times its share); after each climb every account gets its cheapest arc among
all when that beats the ones it has, and the climb resumes (the multipliers are kept within a
box, so a start that cannot balance stays bounded). The workload total is estimated from the
soft assignment; the caps on moves and on accounts per territory are left to the LP.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.linalg import cho_factor, cho_solve
from scipy.spatial import cKDTree

from terrlib.territory.problem import TerritoryProblem, unit_vectors

#: temperatures of the soft minimum, in turn
TEMPERATURES = (0.1, 0.03, 0.01)
#: |multiplier| beyond BOX costs kappa * excess^2 (kappa: the number of accounts)
BOX = 30.0


def _soft(x, up, lo, eps):
    """eps-smoothed max(x * up, x * lo): the bands' term; its value, slope and curvature."""
    a0, a1 = x * up / eps, x * lo / eps
    top = np.maximum(a0, a1)
    e0, e1 = np.exp(a0 - top), np.exp(a1 - top)
    sg = e0 / (e0 + e1)
    return (
        eps * (top + np.log(e0 + e1)),
        sg * up + (1 - sg) * lo,
        ((up - lo) ** 2 * sg * (1 - sg) / eps),
    )


class SoftDual:
    """The smoothed Lagrangian dual over a set of arcs, and pricing of every arc under it.

    Costs, hours and potential are in units of the start arcs' averages (``cs``, ``hs``)
    and the average account's potential (``ps``)."""

    def __init__(self, problem: TerritoryProblem, keys: np.ndarray, tol: float):
        p = self.problem = problem
        n, m = p.n, p.m
        self.free = np.flatnonzero(~p.locked)
        lk = np.flatnonzero(p.locked)
        lv = p.arc_values(lk, p.current[lk])
        start = p.arc_values(keys // m, keys % m)
        self.cs = float(start["cost"].mean()) or 1.0
        self.hs = float(start["hours"].mean()) or 1.0
        ps = float(p.potential.mean()) or 1.0
        self.locked_h = np.bincount(p.current[lk], lv["hours"], m) / self.hs
        locked_p = np.bincount(p.current[lk], p.potential[lk], m) / ps
        self.pot = p.potential / ps
        s, b = p.share, p.bands()
        self.balance_p = p.p_tol < 1e5
        self.p_up = (1 + b.p_hi) * s * self.pot.sum() - locked_p
        self.p_lo = (1 - b.p_lo) * s * self.pot.sum() - locked_p
        self.kappa = float(n)
        self.per = max(1, 2_000_000 // m)
        self.cache: dict[int, tuple] = {}
        self.set_arcs(keys, start)

    def set_arcs(self, keys: np.ndarray, v: dict | None = None) -> None:
        """Work over arcs ``keys`` (sorted)."""
        p, m = self.problem, self.problem.m
        r, c = keys // m, keys % m
        v = p.arc_values(r, c) if v is None else v
        self.keys = keys
        self.r_a, self.c_c = r, c
        self.starts = np.r_[0, np.flatnonzero(np.diff(r)) + 1]
        self.seg = np.cumsum(np.r_[0, np.diff(r) != 0])  # each arc's account among those
        self.c_a, self.h_a, self.p_a = v["cost"] / self.cs, v["hours"] / self.hs, self.pot[r]

    def parts(self, z: np.ndarray):
        """The workload and potential multipliers."""
        m = self.problem.m
        return z[:m], z[m:] if self.balance_p else np.zeros(m)

    def value(self, z: np.ndarray, eps: float, h_up, h_lo) -> float:
        """The smoothed dual at ``z``."""
        return self._evaluate(z, eps, h_up, h_lo, hess=False)

    def newton_terms(self, z: np.ndarray, eps: float, h_up, h_lo):
        """The smoothed dual at ``z``, its gradient and curvature, and the soft assignment's
        workload."""
        return self._evaluate(z, eps, h_up, h_lo, hess=True)

    def _evaluate(self, z, eps, h_up, h_lo, hess):
        m, n = self.problem.m, self.problem.n
        u, w = self.parts(z)
        c_c, h_a, p_a = self.c_c, self.h_a, self.p_a
        red = self.c_a + u[c_c] * h_a + w[c_c] * p_a
        low = np.minimum.reduceat(red, self.starts)
        e = np.exp(-(red - low[self.seg]) / eps)
        tot = np.add.reduceat(e, self.starts)
        over = np.maximum(np.abs(z) - BOX, 0)
        vu, du, cu = _soft(u, h_up, h_lo, eps)
        f = float((low - eps * np.log(tot)).sum() - vu.sum() - self.kappa * (over**2).sum())
        if self.balance_p:
            vw, dw, cw = _soft(w, self.p_up, self.p_lo, eps)
            f -= float(vw.sum())
        if not hess:
            return f
        pi = e / tot[self.seg]
        ph, pp = pi * h_a, pi * p_a
        g = [np.bincount(c_c, ph, m) - du]
        diag = [np.bincount(c_c, ph * h_a, m) + eps * cu]
        cols_q, vals_q = [c_c], [ph]
        if self.balance_p:
            g.append(np.bincount(c_c, pp, m) - dw)
            diag.append(np.bincount(c_c, pp * p_a, m) + eps * cw)
            cols_q.append(m + c_c)
            vals_q.append(pp)
        k = len(z)
        curv = np.diag(np.concatenate(diag))
        if self.balance_p:
            cross = np.bincount(c_c, ph * p_a, m)
            curv[np.arange(m), m + np.arange(m)] = cross
            curv[m + np.arange(m), np.arange(m)] = cross
        keep = pi > 1e-6  # the rest adds nothing to the curvature at this precision
        q_mat = sparse.csr_matrix(
            (
                np.concatenate(vals_q)[np.tile(keep, len(vals_q))],
                (
                    np.tile(self.r_a, len(vals_q))[np.tile(keep, len(vals_q))],
                    np.concatenate(cols_q)[np.tile(keep, len(vals_q))],
                ),
            ),
            shape=(n, k),
        )
        curv = (curv - (q_mat.T @ q_mat).toarray()) / eps
        curv[np.diag_indices(k)] += 2 * self.kappa * (over > 0)
        grad = np.concatenate(g) - 2 * self.kappa * np.sign(z) * over
        return f, grad, curv, float(ph.sum())

    def _chunk(self, a: int):
        """Every arc of the free accounts ``free[a : a + per]`` (kept when the plan is
        small)."""
        if a in self.cache:
            return self.cache[a]
        p, m = self.problem, self.problem.m
        acc = self.free[a : a + self.per]
        r, c = np.repeat(acc, m), np.tile(np.arange(m), len(acc))
        v = p.arc_values(r, c)
        cost = np.where(p.allowed(r, c), v["cost"] / self.cs, np.inf)
        out = (acc, r, c, cost, v["hours"] / self.hs)
        if p.n * m <= 4_000_000:
            self.cache[a] = out
        return out

    def reduced(self, z: np.ndarray):
        """Per chunk of free accounts: the accounts and their reduced cost on every
        territory under ``z``."""
        m = self.problem.m
        u, w = self.parts(z)
        for a in range(0, len(self.free), self.per):
            acc, r, c, cost, hours = self._chunk(a)
            yield acc, (cost + u[c] * hours + w[c] * self.pot[r]).reshape(len(acc), m)


def _start_arcs(problem: TerritoryProblem) -> tuple[np.ndarray, np.ndarray]:
    """Every account's 8 nearest homes, each territory's nearest accounts (three times its
    share) and every account's current territory, where allowed; and each account's nearest
    home."""
    p, m = problem, problem.m
    free = np.flatnonzero(~p.locked)
    rows, cols = p.nearest(8)
    keys = [(rows * m + cols)[~p.locked[rows]]]
    q = min(len(free), int(np.ceil(3 * len(free) / m)))
    if p.distances is None:
        tree = cKDTree(unit_vectors(p.lat[free], p.lon[free]))
        _, near = tree.query(unit_vectors(p.home_lat, p.home_lon), k=q)
        near = free[np.asarray(near).reshape(m, q)]
    else:
        near = free[np.argpartition(p.distances[free], q - 1, axis=0)[:q]].T
    keys.append(near.ravel() * m + np.repeat(np.arange(m), q))
    has = free[p.current[free] >= 0]
    keys.append(has * m + p.current[has])
    keys = np.unique(np.concatenate(keys))
    return keys[p.allowed(keys // m, keys % m)], cols.reshape(p.n, -1)[:, 0]


def _climb(dual: SoftDual, z, eps, tol, total_h, damp):
    """Damped Newton steps on the dual at temperature ``eps`` (at most 30); the multipliers,
    the workload total and the damping reached."""
    p, m = dual.problem, dual.problem.m
    s, t_p = p.share, p.p_tol
    band = p.bands(tol)
    for _ in range(30):
        h_up = (1 + band.w_hi) * s * total_h - dual.locked_h
        h_lo = (1 - band.w_lo) * s * total_h - dual.locked_h
        f, g, curv, soft_h = dual.newton_terms(z, eps, h_up, h_lo)
        total_h = float(dual.locked_h.sum() + soft_h)
        if np.abs(g[:m]).max() < 0.01 * tol * (s * total_h).min() and (
            not dual.balance_p or np.abs(g[m:]).max() < 0.01 * t_p * (s * dual.pot.sum()).min()
        ):
            break
        scale = np.diag(curv) + np.diag(curv).mean() + 1e-12
        moved = False
        while damp <= 1e6 and not moved:
            try:
                d = cho_solve(cho_factor(curv + damp * np.diag(scale)), g)
            except np.linalg.LinAlgError:
                damp *= 10
                continue
            step = 1.0
            while step > 0.05:
                if dual.value(z + step * d, eps, h_up, h_lo) >= f + 1e-4 * step * (g @ d):
                    z, moved = z + step * d, True
                    damp = max(damp / 3, 1e-8) if step == 1.0 else damp
                    break
                step /= 2
            if not moved:
                damp *= 10
        if not moved:
            damp = 1e-4
            break
    return z, total_h, damp


def _cheaper_arcs(dual: SoftDual, z, eps) -> np.ndarray:
    """Arcs cheaper under ``z`` than every arc their account has (by ``0.1 eps``)."""
    p, m = dual.problem, dual.problem.m
    u, w = dual.parts(z)
    low = np.full(p.n, np.inf)  # each account's cheapest arc so far
    low[dual.r_a[dual.starts]] = np.minimum.reduceat(
        dual.c_a + u[dual.c_c] * dual.h_a + w[dual.c_c] * dual.p_a, dual.starts
    )
    new = []
    for acc, red in dual.reduced(z):
        b = red.argmin(axis=1)
        better = red[np.arange(len(acc)), b] < low[acc] - 0.1 * eps
        new.append((acc * m + b)[better])
    return np.concatenate(new)


def dual_start(problem: TerritoryProblem, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Arcs to start a large LP from, picked by the approximate Lagrangian dual (see the
    module notes).

    Returns
    -------
    lp_arcs, repair_arcs : ndarray
        Keys ``i * m + k``: the arcs within 0.02 of each account's cheapest under the
        multipliers, its current territory and the locked accounts' arcs (the LP's start:
        most accounts have a single arc, which HiGHS's presolve removes), and those
        within 1.0 (for the single-move repair of the rounding). The LP's column
        generation still prices every arc, so its bound does not depend on this choice.
    """
    p, n, m = problem, problem.n, problem.m
    free = np.flatnonzero(~p.locked)
    if not len(free):
        return p.candidate_arcs(p.settings["candidates"]), np.zeros(0, int)
    keys, nearest = _start_arcs(p)
    dual = SoftDual(p, keys, tol)
    z = np.zeros(2 * m if dual.balance_p else m)
    total_h = float(p.arc_values(np.arange(n), nearest)["hours"].sum() / dual.hs)
    damp = 1e-4
    for eps in TEMPERATURES:
        for _ in range(4):  # rounds of pricing
            z, total_h, damp = _climb(dual, z, eps, tol, total_h, damp)
            new = _cheaper_arcs(dual, z, eps)
            if not len(new):
                break
            dual.set_arcs(np.union1d(dual.keys, new))
    lp, repair = [], []
    for acc, red in dual.reduced(z):
        gap = red - red.min(axis=1, keepdims=True)
        ids = acc[:, None] * m + np.arange(m)
        lp.append(ids[gap <= 0.02])
        repair.append(ids[gap <= 1.0])
    has = free[p.current[free] >= 0]
    lk = np.flatnonzero(p.locked)
    own = np.r_[has * m + p.current[has], lk * m + p.current[lk]]
    return np.union1d(np.concatenate(lp), own), np.union1d(np.concatenate(repair), own)
