"""Large plans solved region by region, with a Lagrangian bound over every arc.

The LP relaxation that certifies a plan has one row per account and four balance rows per
territory; at 200,000 accounts and 500 territories HiGHS needs far more than the two minutes
a scheduled run can give it. When an account's workload is its call hours (the same whoever
serves it), the plan's targets are fixed numbers, so regions can be balanced apart from each
other. :func:`solve_by_regions`

1. splits the territories in two by rep home (along the direction the homes spread most),
   and the accounts between the halves by a small LP: each account to the half whose nearest
   home serves it more cheaply, subject to each half's workload and potential being within
   ``split_tolerance`` of its territories' targets (never narrower than its parent's own
   deviation, so halves of halves stay feasible); and recurses until a region has at most
   ``size`` territories;
2. solves each region with the usual pipeline (LP, rounding, repair) against those fixed
   targets, with the bands narrowed a little (``margin``). A region that cannot meet its
   bands (a rep home far from every account the split gave it) is merged with its sibling
   and solved again;
3. repairs what is left out of band (nothing, when every region met its bands) and improves
   the plan with single moves across region borders;
4. bounds it: each region's LP multipliers, stitched together, start an ascent of the
   Lagrangian dual of the whole plan (the balance rows relaxed), priced over every arc of
   every account in chunks. Any multipliers give a valid lower bound, so the plan's gap is
   certified however far the ascent gets. It stops on a count of pricing passes, so the
   bound does not depend on the machine. Where every arc's cost fits in
   :data:`DENSE_BYTES` it is kept in memory and a pass is cheap, so the ascent runs 40
   (on 200,000 x 500 seed 0 the certified gap is then 21%, against 51% with the two passes
   of about 10 s each it could afford before); larger plans still get two.

The split is where the plan loses: an account's cost to the nearest home of a half is a
rough guide to where the whole plan wants it. On the 20,000 x 100 benchmark plans (seeds
0-2) the certified gaps were 9.0, 12.7 and 17.5%, against 0.3-0.6% from the LP over every
account, whose plans on seeds 0 and 1 cost 8.3% and 11.6% less. So solve() comes here only
for plans too large for that LP (:data:`REGIONS`).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from terrlib.territory.problem import TerritoryProblem
>>> rng = np.random.default_rng(0)
>>> n, m = 1200, 8
>>> acc = pd.DataFrame({"account_id": range(n), "latitude": rng.uniform(35, 45, n),
...                     "longitude": rng.uniform(-100, -80, n), "call_hours": 10.0,
...                     "potential": rng.lognormal(0, 0.3, n), "territory_id": "T0"})
>>> homes = pd.DataFrame({"territory_id": [f"T{k}" for k in range(m)],
...                       "home_latitude": rng.uniform(36, 44, m),
...                       "home_longitude": rng.uniform(-98, -82, m), "capacity": 1.0})
>>> plan = TerritoryProblem.build(acc, homes, tolerance=0.05, disruption=0.0, visits_per_call=0)
>>> solved = solve_by_regions(plan, size=3)
>>> score = plan.evaluate(solved.assign)
>>> solved.regions, score["breach"] == 0, bool(score["objective"] >= solved.bound)
(3, True, True)
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog, minimize
from scipy.spatial import cKDTree

from terrlib.territory import model as lp
from terrlib.territory import pipeline, polish, search
from terrlib.territory.diagnose import diagnose
from terrlib.territory.problem import InfeasibleRequest, TerritoryProblem, unit_vectors
from terrlib.territory.relaxation import Workspace, relax

log = logging.getLogger(__name__)

# accounts x territories from which a solve works region by region when it can: the LP over
# every account needs far more than two minutes at 200,000 x 500 (100M), where the regions
# take 94 s; at 20,000 x 100 (2M) the LP's plans cost 8-12% less in about the same time.
# Sizes in between were not measured.
REGIONS = 20_000_000
#: memory the Lagrangian bound may keep every arc's cost in, which makes each pricing pass
#: several times faster (1.6 GB: 200,000 accounts x 1,000 territories)
DENSE_BYTES = 1_600_000_000


def suits(problem: TerritoryProblem) -> bool:
    """Whether a solve should go region by region: at least :data:`REGIONS` accounts x
    territories, its own totals, rep-home coordinates, no cap on moves and workload without
    travel."""
    return (
        problem.n * problem.m >= REGIONS
        and problem.settings["totals"] is None
        and problem.distances is None
        and not np.isfinite(problem.cap)
        and not problem.trips.any()
    )


@dataclass
class Region:
    """Accounts and territories (positions in the whole plan) of one region, and the two
    regions it splits into (None for a leaf)."""

    accounts: np.ndarray
    territories: np.ndarray
    halves: tuple[Region, Region] | None = None


@dataclass
class RegionSolution(pipeline.Solution):
    """A plan solved region by region; ``regions`` is how many regions were solved."""

    regions: int = 0


def _side(problem: TerritoryProblem, acc: np.ndarray, ters: np.ndarray):
    """For accounts ``acc``: the cost and hours of the cheaper of their nearest home among
    ``ters`` and their current territory when it is among them, whether that arc is allowed
    (within reach and region), and whether the current territory is among ``ters``."""
    p = problem
    tree = cKDTree(unit_vectors(p.home_lat[ters], p.home_lon[ters]))
    _, j = tree.query(unit_vectors(p.lat[acc], p.lon[acc]), k=1)
    near = ters[np.asarray(j).ravel()]
    v = p.arc_values(acc, near)
    cost, hours = v["cost"], v["hours"]
    cur = p.current[acc]
    here = np.isin(cur, ters)
    if here.any():
        c = p.arc_values(acc[here], cur[here])
        better = c["cost"] < cost[here]
        idx = np.flatnonzero(here)[better]
        cost[idx], hours[idx] = c["cost"][better], c["hours"][better]
    ok = p.allowed(acc, near) | here
    return cost, hours, ok, here


def _halve(problem: TerritoryProblem, acc, ters, size, tolerance, xyz, big_h, big_p):
    """The two halves of a region's territories by rep home, and which accounts go to the
    first (an LP holding each half's workload and potential within its band)."""
    p = problem
    parts = int(np.ceil(len(ters) / size))
    q = xyz[ters] - xyz[ters].mean(axis=0)
    axis = np.linalg.svd(q, full_matrices=False)[2][0]
    order = ters[np.argsort(q @ axis, kind="stable")]
    cut = int(round(len(ters) * (parts // 2) / parts))
    one, two = order[:cut], order[cut:]
    c1, h1, ok1, in1 = _side(p, acc, one)
    c2, h2, ok2, in2 = _side(p, acc, two)
    t1, t2 = p.share[one].sum(), p.share[two].sum()
    pot = p.potential[acc]
    h_all, p_all = h2.sum(), pot.sum()  # an account's hours do not depend on the half
    # a region at the edge of its band leaves its halves no room inside a narrower one
    eps = max(tolerance, abs(h_all / ((t1 + t2) * big_h) - 1) + 1e-6)
    # x = 1 sends an account to half one; each half within eps of its targets
    a_ub = [h1, -h1, -h2, h2]
    b_ub = [
        (1 + eps) * t1 * big_h,
        -(1 - eps) * t1 * big_h,
        (1 + eps) * t2 * big_h - h_all,
        h_all - (1 - eps) * t2 * big_h,
    ]
    if p.settings["balance_potential"]:  # potential's band, in proportion to workload's
        eps_p = max(
            tolerance * (p.p_tol / p.tolerance),
            abs(p_all / ((t1 + t2) * big_p) - 1) + 1e-6,
        )
        a_ub += [pot, -pot, -pot, pot]
        b_ub += [
            (1 + eps_p) * t1 * big_p,
            -(1 - eps_p) * t1 * big_p,
            (1 + eps_p) * t2 * big_p - p_all,
            p_all - (1 - eps_p) * t2 * big_p,
        ]
    lim = p.max_accounts
    if lim is not None:
        a_ub += [np.ones(len(acc)), -np.ones(len(acc))]
        b_ub += [lim[one].sum(), lim[two].sum() - len(acc)]
    lo, hi = np.zeros(len(acc)), np.ones(len(acc))
    locked = p.locked[acc]
    lo[(locked & in1) | ~ok2] = 1.0
    hi[(locked & in2) | ~ok1] = 0.0
    lo = np.minimum(lo, hi)  # an account allowed in neither half keeps both open
    res = linprog(
        c1 - c2,
        A_ub=np.array(a_ub),
        b_ub=np.array(b_ub),
        bounds=np.column_stack([lo, hi]),
        method="highs",
    )
    if res.status != 0:
        log.info("split of %d accounts x %d territories: %s", len(acc), len(ters), res.message)
    x = res.x if res.status == 0 else (c1 < c2).astype(float)
    return one, two, x > 0.5


def split_regions(problem: TerritoryProblem, size: int, tolerance: float) -> Region:
    """The region tree of a problem: territories halved by rep home until at most ``size``
    a region, accounts split between halves by an LP holding each half's workload within
    ``tolerance`` of its targets (its territories' shares of the plan's totals; see module
    notes), and its potential within as much more as the potential's tolerance is wider."""
    p = problem
    xyz = unit_vectors(p.home_lat, p.home_lon)
    big_h, big_p = float(p.call_time.sum()), float(p.potential.sum())

    def split(acc: np.ndarray, ters: np.ndarray) -> Region:
        if int(np.ceil(len(ters) / size)) <= 1 or len(acc) < 2:
            return Region(acc, ters)
        one, two, first = _halve(p, acc, ters, size, tolerance, xyz, big_h, big_p)
        return Region(acc, ters, (split(acc[first], one), split(acc[~first], two)))

    return split(np.arange(p.n), np.arange(p.m))


def _sub(problem: TerritoryProblem, region: Region, margin: float) -> TerritoryProblem:
    """The problem of one region against fixed targets (its territories' shares of the
    plan's workload and potential), its bands narrowed by ``margin``."""
    p = problem
    acc = p.accounts.iloc[region.accounts].copy()
    cur = p.current[region.accounts]
    acc["territory_id"] = np.where(np.isin(cur, region.territories), p.ids[np.maximum(cur, 0)], "")
    share = p.share[region.territories].sum()
    ptol = p.settings["potential_tolerance"]
    own = set(p.ids[region.territories])
    floors = {t: v for t, v in (p.settings["territory_tolerance"] or {}).items() if t in own}
    return TerritoryProblem.build(
        acc,
        p.territories.iloc[region.territories],
        **p.settings
        | {
            "tolerance": p.settings["tolerance"] * (1 - margin),
            "potential_tolerance": None if ptol is None else ptol * (1 - margin),
            "totals": (float(p.call_time.sum()) * share, float(p.potential.sum()) * share),
            "reach_km": p.reach,
            "territory_tolerance": floors or None,
        },
    )


def solve_by_regions(
    problem: TerritoryProblem,
    ws: Workspace | None = None,
    limit: float = 30.0,
    size: int = 10,
    split_tolerance: float | None = None,
    margin: float = 0.05,
    quick: bool = True,
    bound_seconds: float = 120.0,
    executor: Executor | None = None,
) -> RegionSolution:
    """Solve ``problem`` region by region (see the module notes), with its bound over the
    whole plan.

    Parameters
    ----------
    problem : TerritoryProblem
        With rep-home coordinates (not a distance matrix), no cap on moved accounts, and
        workload that does not depend on who serves an account (call hours, no travel).
    ws : Workspace, optional
        The solve's workspace (a new one by default).
    limit : float
        Seconds allowed to each MILP (a safety net).
    size : int
        Most territories in a region.
    split_tolerance : float, optional
        How far from its targets a half's workload and potential may be at each split
        (default 0.8 of the tolerance).
    margin : float
        Share of the tolerance held back in each region.
    quick : bool
        Solve each region without MILP polishing.
    bound_seconds : float
        Safety net on the ascent of the Lagrangian bound, which stops on a count of pricing
        passes over every arc: 2 at 100M accounts x territories (each takes about 10 s
        there), more on smaller plans (``2e8 / (accounts x territories)``, at most 40).

    Raises
    ------
    ValueError
        When the plan has a distance matrix, a cap on moves, or travel in its workload.
    """
    p = problem
    ws = Workspace() if ws is None else ws
    ws.scales = None
    if p.distances is not None or p.settings["max_moved_share"] is not None or p.trips.any():
        raise ValueError(
            "solving by regions needs rep-home coordinates, no cap on moves and workload "
            "without travel (set visits_per_call=0)"
        )
    if split_tolerance is None:
        split_tolerance = 0.8 * p.tolerance
    assign, prices, done = _by_regions(p, ws, limit, size, split_tolerance, margin, quick, executor)
    n, m = p.n, p.m
    rows, cols = p.nearest(p.settings["candidates"])
    keys = np.union1d(rows * m + cols, np.arange(n) * m + assign)
    rows, cols = keys // m, keys % m
    ws.scales = sc = lp.Scales.of(p, keys)
    if p.evaluate(assign)["breach"] > 1e-9:
        assign = search.repair(p, assign, rows, cols)
        if p.evaluate(assign)["breach"] > 1e-9:
            mended = polish.mend(p, sc, assign, limit)
            if mended is None:
                raise InfeasibleRequest(diagnose(p, ws)[0])
            assign = mended
    assign = search.improve(p, assign, rows, cols, sc.cost)
    method = (
        f"{len(done)} regions of at most {size} territories, each by LP relaxation and "
        "rounding, then single moves across region borders; bound by Lagrangian relaxation"
    )
    lag = Lagrangian(p, sc, np.union1d(keys, np.arange(n) * m + assign))
    lag.set_prices(prices)
    dense = lag._dense()
    passes = 40 if dense else int(np.clip(2e8 / (n * m), 2, 40))
    ascent = lag.ascend(time.perf_counter() + bound_seconds, passes=passes)
    bound = max(ascent, nearest_bound(p))
    pipeline.check(p, ws, assign)
    return RegionSolution(assign, bound, method, {}, sc, regions=len(done))


def nearest_bound(problem: TerritoryProblem) -> float:
    """The Lagrangian bound with every multiplier 0: each account at its cheapest home, at
    least its travel to the nearest home (plus the disruption cost, if it moves) and at most
    its current arc's cost; a locked account at its current arc. Cheap, and valid whatever
    the ascent reaches."""
    p = problem
    rows, near = p.nearest(1)
    d_near = p.dist(rows, near)
    has = p.current >= 0
    cur = np.maximum(p.current, 0)
    own = np.where(has, p.arc_values(rows, cur)["cost"], np.inf)
    away = p.distance_weight * d_near + np.where(has, p.penalty, 0.0)
    least = np.where(p.locked, own, np.minimum(own, away))
    return float(least.sum())


def solve_region(sub: TerritoryProblem, limit: float, quick: bool):
    """One region's plan (:func:`_sub`'s problem), solved by the usual pipeline: its
    assignment (positions among the region's territories) and LP multipliers, or None when
    the region cannot meet its bands. A function of its arguments alone, so that an
    executor can run it in another process or on another machine."""
    sub_ws = Workspace()
    what = f"{sub.n} accounts x {sub.m} territories"
    if relax(sub, sub_ws, sub.tolerance).status != "optimal":
        log.info("region of %s: LP infeasible", what)
        return None
    began = time.perf_counter()
    try:
        solved = pipeline.solve(
            sub, sub_ws, exact=False, limit=limit, quick=quick, tidy_edges=False
        )
    except InfeasibleRequest:
        log.info("region of %s: no plan found", what)
        return None
    log.info("region of %s: %.1f s", what, time.perf_counter() - began)
    return solved.assign, {k: v for k, v in solved.prices.items() if k != "moved"}


def _leaves(region: Region) -> list[Region]:
    if region.halves is None:
        return [region]
    return [*_leaves(region.halves[0]), *_leaves(region.halves[1])]


def _by_regions(problem, ws, limit, size, split_tolerance, margin, quick, executor=None):
    """Split, solve each region (merging a failed one with its sibling); the assignment,
    the regions' LP multipliers and the regions solved. With an ``executor``, the smallest
    regions are solved on it at once; a region whose half failed is then solved whole, as
    in process, so the plan is the same either way."""
    p = problem
    tree = split_regions(p, size, split_tolerance)
    assign = np.full(p.n, -1)
    prices: dict[str, np.ndarray] = {}
    done: list[Region] = []
    ahead: dict[int, object] = {}
    if executor is not None:
        ahead = {
            id(r): executor.submit(solve_region, _sub(p, r, margin), limit, quick)
            for r in _leaves(tree)
        }

    def solve(r: Region) -> bool:
        if r.halves is not None:
            first = solve(r.halves[0])
            if first and solve(r.halves[1]):
                return True
            if not first:  # as in process: the second half is not needed
                for leaf in _leaves(r.halves[1]):
                    if id(leaf) in ahead:
                        ahead.pop(id(leaf)).cancel()
        future = ahead.pop(id(r), None)
        result = (
            future.result()
            if future is not None
            else solve_region(_sub(p, r, margin), limit, quick)
        )
        if result is None:
            return False
        local, local_prices = result
        assign[r.accounts] = r.territories[local]
        for key, value in local_prices.items():
            prices.setdefault(key, np.zeros(p.m))[r.territories] = value
        done[:] = [d for d in done if not np.isin(d.territories, r.territories).any()]
        done.append(r)
        return True

    if not solve(tree):
        raise InfeasibleRequest(diagnose(p, ws)[0])
    return assign, prices, done


class Lagrangian:
    """The Lagrangian dual of a plan with its balance rows relaxed.

    With multipliers ``λ >= 0`` on every band (workload above and below, potential above
    and below, account limits), each account picks its territory of least Lagrangian cost
    and ``L(λ) = sum_i min_k [c_ik + λ · a_ik] - λ · b`` bounds every plan that keeps the
    rules, provided the minimum runs over every territory the account may go to: the
    bound is priced over all of them, in chunks. Workload bands are shares of the plan's
    total hours, which depend on the assignment too; that folds into each arc's cost as
    ``theta``. The multipliers are improved on a smooth stand-in (the minimum replaced by a
    soft minimum at falling temperatures) by L-BFGS-B; arcs that pricing finds cheaper
    than all an account has are added as it goes.

    Parameters
    ----------
    problem : TerritoryProblem
        Without a cap on moves.
    sc : Scales
        The scales of the plan's LP (costs are in units of ``sc.cost``).
    keys : array
        Arcs to start from (i * m + k), at least one per account.
    """

    def __init__(self, problem: TerritoryProblem, sc: lp.Scales, keys: np.ndarray) -> None:
        self.p = opt = problem
        n, m = opt.n, opt.m
        locked = np.flatnonzero(opt.locked)
        keys = keys[~opt.locked[keys // m]]
        keys = np.union1d(keys, locked * m + opt.current[locked])
        rows, cols = keys // m, keys % m
        self.sc = float(sc.cost)
        self.h_bar = float(opt.arc_values(rows, cols)["hours"].mean()) * n / m
        self.p_tot = float(opt.potential.sum())
        self.p_bar = max(self.p_tot / m, 1e-12)
        self.n_bar = n / m
        self.lim = opt.max_accounts
        if self.lim is not None:
            self.lim = np.where(np.isfinite(self.lim), self.lim, n)
        self._set_arcs(keys)
        self.lam = np.zeros(self._n_mult())

    def _set_arcs(self, keys: np.ndarray) -> None:
        m = self.p.m
        self.rows, self.cols = keys // m, keys % m
        self.starts = np.searchsorted(self.rows, np.arange(self.p.n))
        v = self.p.arc_values(self.rows, self.cols)
        self.hours, self.cost = v["hours"], v["cost"] / self.sc
        self.pot = self.p.potential[self.rows]

    def _n_mult(self) -> int:
        m = self.p.m
        return 4 * m + (m if self.lim is not None else 0)

    def _norms(self) -> np.ndarray:
        m = self.p.m
        parts = [np.full(2 * m, self.h_bar), np.full(2 * m, self.p_bar)]
        if self.lim is not None:
            parts.append(np.full(m, self.n_bar))
        return np.concatenate(parts)

    def set_prices(self, prices: dict[str, np.ndarray]) -> None:
        """Start from multipliers in cost per unit (see
        :func:`terrlib.territory.model.multipliers`)."""
        m = self.p.m
        get = lambda k: prices.get(k, np.zeros(m))  # noqa: E731
        parts = [get("hours_over"), get("hours_under"), get("potential_over")]
        parts.append(get("potential_under"))
        if self.lim is not None:
            parts.append(get("count"))
        self.lam = np.concatenate(parts) * self._norms() / self.sc

    def _terms(self, lam: np.ndarray):
        """Per-territory coefficients of hours, potential and count in an arc's Lagrangian
        cost, and the constant (in units of ``sc``)."""
        opt, m, s = self.p, self.p.m, self.p.share
        a, b, g, d = (lam[j * m : (j + 1) * m] for j in range(4))
        z = lam[4 * m : 5 * m] if self.lim is not None else np.zeros(m)
        bd = opt.bands()
        theta = float((s * ((1 + bd.w_hi) * a - (1 - bd.w_lo) * b)).sum())
        ch = (a - b - theta) / self.h_bar
        cp = (g - d) / self.p_bar
        cn = z / self.n_bar
        const = float(
            (-(g * (1 + bd.p_hi) * s) + d * (1 - bd.p_lo) * s).sum() * self.p_tot / self.p_bar
        )
        if self.lim is not None:
            const -= float((z * self.lim).sum()) / self.n_bar
        return ch, cp, cn, const

    def _slopes(self, x: np.ndarray) -> np.ndarray:
        """The relaxed rows (normalised) at a soft assignment ``x``: the gradient."""
        opt, m, s = self.p, self.p.m, self.p.share
        bd = opt.bands()
        c = self.cols
        load = np.bincount(c, weights=x * self.hours, minlength=m)
        pot = np.bincount(c, weights=x * self.pot, minlength=m)
        tot = load.sum()
        parts = [
            (load - (1 + bd.w_hi) * s * tot) / self.h_bar,
            ((1 - bd.w_lo) * s * tot - load) / self.h_bar,
            (pot - (1 + bd.p_hi) * s * self.p_tot) / self.p_bar,
            ((1 - bd.p_lo) * s * self.p_tot - pot) / self.p_bar,
        ]
        if self.lim is not None:
            parts.append((np.bincount(c, weights=x, minlength=m) - self.lim) / self.n_bar)
        return np.concatenate(parts)

    def _smooth(self, lam: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
        ch, cp, cn, const = self._terms(lam)
        c = self.cols
        red = self.cost + self.hours * ch[c] + self.pot * cp[c] + cn[c]
        low = np.minimum.reduceat(red, self.starts)
        x = np.exp(-(red - low[self.rows]) / tau)
        total = np.add.reduceat(x, self.starts)
        x /= total[self.rows]
        value = float((low - tau * np.log(total)).sum()) + const
        return value, self._slopes(x)

    def _dense(self, chunk: int = 4_000_000) -> bool:
        """Keep every free account's arc costs in memory (in ``sc`` units, inf where not
        allowed), when they fit in :data:`DENSE_BYTES` and an account's hours do not depend
        on its territory (no travel in workload): pricing then reads them instead of
        computing them again (several times faster), so the ascent can afford many more
        passes. Whether they are kept."""
        opt = self.p
        if getattr(self, "dense_cost", None) is not None:
            return True
        free = np.flatnonzero(~opt.locked)
        if opt.trips.any() or 8 * len(free) * opt.m > DENSE_BYTES:
            return False
        m = opt.m
        cost = np.empty((len(free), m))
        per = max(1, chunk // m)
        for s0 in range(0, len(free), per):
            acc = free[s0 : s0 + per]
            r, k = np.repeat(acc, m), np.tile(np.arange(m), len(acc))
            c = opt.arc_values(r, k)["cost"] / self.sc
            c[~opt.allowed(r, k)] = np.inf
            cost[s0 : s0 + len(acc)] = c.reshape(len(acc), m)
        self.dense_cost = cost
        return True

    def price(self, lam: np.ndarray, chunk: int = 4_000_000) -> tuple[float, int]:
        """L(λ) over every allowed arc of every account (a valid lower bound, in cost
        units); accounts whose cheapest arc is missing get it. Returns the bound and how
        many accounts were given arcs."""
        opt = self.p
        n, m = opt.n, opt.m
        ch, cp, cn, const = self._terms(lam)
        c = self.cols
        have = np.minimum.reduceat(
            self.cost + self.hours * ch[c] + self.pot * cp[c] + cn[c], self.starts
        )
        low = have.copy()
        best = np.full(n, -1)
        free = np.flatnonzero(~opt.locked)
        per = max(1, chunk // m)
        dense = self._dense(chunk)
        for s0 in range(0, len(free), per):
            acc = free[s0 : s0 + per]
            if dense:  # the kept costs, in float64 for the bound's sum
                part = slice(s0, s0 + len(acc))
                rc = (
                    self.dense_cost[part]
                    + opt.call_time[acc][:, None] * ch[None, :]
                    + opt.potential[acc][:, None] * cp[None, :]
                    + cn[None, :]
                )
            else:
                r = np.repeat(acc, m)
                k = np.tile(np.arange(m), len(acc))
                v = opt.arc_values(r, k)
                rc = v["cost"] / self.sc + v["hours"] * ch[k] + opt.potential[r] * cp[k] + cn[k]
                rc[~opt.allowed(r, k)] = np.inf
                rc = rc.reshape(len(acc), m)
            pick = rc.argmin(axis=1)
            val = rc[np.arange(len(acc)), pick]
            low[acc] = np.minimum(low[acc], val)
            better = val < have[acc] - 1e-9
            best[acc[better]] = pick[better]
        add = np.flatnonzero(best >= 0)
        if len(add):
            self._set_arcs(np.union1d(self.rows * m + self.cols, add * m + best[add]))
        return (float(low.sum()) + const) * self.sc, len(add)

    def ascend(
        self,
        deadline: float,
        temperatures=(0.01, 0.003, 0.001, 0.0003),
        steps: int = 40,
        passes: int = 40,
    ) -> float:
        """Improve the multipliers and return the best bound priced (in cost units): for
        each temperature in turn, rounds of at most ``steps`` L-BFGS-B iterations on the
        soft Lagrangian, each round followed by pricing every arc, for at most ``passes``
        pricing passes in all (a count, so the bound does not depend on the machine;
        ``deadline`` is only a safety net)."""
        lam = self.lam.copy()
        best, _ = self.price(lam)
        passes -= 1
        bounds = [(0.0, None)] * len(lam)

        def stop(intermediate_result) -> None:
            if time.perf_counter() > deadline:
                raise StopIteration

        for tau in temperatures:

            def fun(y: np.ndarray, tau: float = tau) -> tuple[float, np.ndarray]:
                v, g = self._smooth(y, tau)
                return -v, -g

            for _ in range(10):
                if time.perf_counter() > deadline or passes <= 0:
                    return best
                res = minimize(
                    fun,
                    lam,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=bounds,
                    callback=stop,
                    options={"maxiter": steps, "gtol": 1e-9, "ftol": 1e-12},
                )
                lam = np.maximum(res.x, 0.0)
                bound, added = self.price(lam)
                passes -= 1
                if bound > best:
                    best, self.lam = bound, lam.copy()
                if added < 1e-3 * self.p.n:
                    break
        return best
