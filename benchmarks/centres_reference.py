"""A reference planner for the capacitated p-median, kept beside the benchmarks (it is not
part of terrlib): choose ``p`` centres among the points and give every point to one centre,
with each territory's load between a floor and a capacity, at the least (weighted) distance.

terrlib draws territories from scratch with :func:`terrlib.territory.scratch.from_scratch`,
which the p-median benchmark measures; this planner is the reference it is compared with. It
was terrlib's ``CentrePlanner`` until the free-centre engines were made one: it comes closer to
the known optima (LP bound plus fix-and-optimise), but it stops on wall-clock time limits (its
plans vary from run to run and machine to machine), has one capacity for every centre and no
potential band or travel in workload, and on the demo company (5,000 accounts, 44 reps) had not
returned after 8 minutes with a 10-second limit.

Model. Points i with demand ``q_i`` (workload hours) and weight ``w_i``; candidate sites s
(by default every point). ``y_s`` = 1 when s is a centre, ``x_is`` = 1 when i goes to s.

* ``sum_s x_is = 1`` for every point; ``sum_s y_s = p``;
* ``min_load * y_s <= sum_i q_i x_is <= capacity * y_s``;
* ``x_is <= y_s`` (the strong linking rows that make the LP tight);
* minimise ``sum w_i d(i, s) x_is``.

Method.

1. **Bound.** The LP relaxation on sparse arcs (each point's nearest sites) is solved with
   HiGHS. Every arc left out is priced with the LP duals; arcs with negative reduced cost are
   added and the LP re-solved. The bound reported is the Lagrangian bound
   ``LP + sum_i min(0, min_s reduced cost)``, valid for the full problem whether or not pricing
   finished. When every arc is in the model, the exact MILP's own bound is used too.
2. **First plan.** The ``p`` sites with the largest LP value ``y_s`` are opened and the points
   allocated to them by a small MILP (a generalised assignment over each point's nearest open
   centres).
3. **Improvement.** Fix and optimise: a centre and its nearest neighbouring centres, with all
   their points, are re-solved exactly as a small p-median (HiGHS MILP) while the rest of the
   map stays fixed. Neighbourhoods that share no centre are solved in parallel on the CPUs
   there are. When a pass finds no improvement, centres are moved: each neighbourhood is
   re-solved with one centre fewer and one more, and the best gains are paired with the
   smallest losses elsewhere (the count stays ``p``). Then the neighbourhoods grow. On small
   instances the whole MILP is then run from the best plan for the time left.

``gap_ = (objective_ - bound_) / objective_``.

Examples
--------
>>> import numpy as np
>>> xy = np.array([[0, 0], [1, 0], [0, 1], [10, 10], [11, 10], [10, 11]], float)
>>> plan = CentrePlanner(xy, demand=np.ones(6), p=2, capacity=3).solve()
>>> sorted(plan.centres_.tolist()), round(plan.objective_, 6), round(plan.gap_, 6)
([0, 3], 4.0, 0.0)
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import highspy
import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from terrlib.territory.problem import InfeasibleRequest, unit_vectors
from terrlib.territory.scratch import Points

_INF = highspy.kHighsInf
METRICS = ("euclidean", "euclidean_floor", "haversine")
_DENSE = 20_000  # points x sites at or below which the exact MILP sees every arc
_SUPPORT = 20_000  # LP arcs at or below which the MILP over the LP's support is tried
_BATCH = 4  # neighbourhoods formed at once (from the same plan) and solved in parallel
# Seconds for one neighbourhood MILP. On p3038_900, 90% of them finish within 0.07 s; the 3%
# that ran past 0.2 s took 36% of the time (26 s of 73) for 9% of the gain; a plan found by
# then is still kept.
_LIMIT = 0.2


def _cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _highs(time_limit: float | None = None) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("threads", 1)
    if time_limit is not None:
        h.setOptionValue("time_limit", max(0.05, float(time_limit)))
    return h


def _start(h: highspy.Highs, values: np.ndarray) -> None:
    sol = highspy.HighsSolution()
    sol.col_value = values
    sol.value_valid = True
    h.setSolution(sol)


def cpmp_model(
    cost: np.ndarray,
    point: np.ndarray,
    site: np.ndarray,
    demand: np.ndarray,
    n_sites: int,
    p: int,
    capacity: float,
    min_load: float = 0.0,
    integer: bool = False,
    site_point: np.ndarray | None = None,
) -> highspy.HighsLp:
    """The capacitated p-median model on the arcs ``(point[k], site[k])`` with ``cost[k]``.

    Columns are ``y`` (one per site, ``0 .. n_sites-1``) then one ``x`` per arc. Rows: one
    assignment row per point, a capacity row per site, a floor row per site when
    ``min_load > 0``, the cardinality row, then one linking row ``x - y <= 0`` per arc.

    Parameters
    ----------
    cost, point, site : array
        Arcs: their cost, point (``0 .. n-1`` where ``n = len(demand)``) and site.
    demand : array
        Each point's demand.
    n_sites, p : int
        Number of candidate sites; number of centres to open.
    capacity, min_load : float
        Most and least demand a centre may serve.
    integer : bool
        Make every column binary (a MILP), else the LP relaxation.
    site_point : array, optional
        The point each site stands on (or -1): an open centre then serves its own point (its
        arc's linking row becomes ``x = y``).

    Returns
    -------
    highspy.HighsLp
    """
    n, m = len(demand), len(cost)
    xs = n_sites + np.arange(m)
    ar = np.arange(n_sites)
    floor = min_load > 0
    cap0 = n
    low0 = cap0 + n_sites
    card = low0 + (n_sites if floor else 0)
    link0 = card + 1
    parts = [
        (point, xs, np.ones(m)),
        (cap0 + site, xs, demand[point]),
        (cap0 + ar, ar, np.full(n_sites, -float(capacity))),
        (np.full(n_sites, card), ar, np.ones(n_sites)),
        (link0 + np.arange(m), xs, np.ones(m)),
        (link0 + np.arange(m), site, -np.ones(m)),
    ]
    if floor:
        parts += [(low0 + site, xs, demand[point]), (low0 + ar, ar, np.full(n_sites, -min_load))]
    r, c, v = (np.concatenate(z) for z in zip(*parts, strict=True))
    n_rows, n_cols = link0 + m, n_sites + m
    a = sparse.csc_matrix((v, (r, c)), shape=(n_rows, n_cols))
    lower = np.full(n_rows, -_INF)
    upper = np.zeros(n_rows)
    lower[:n] = upper[:n] = 1.0
    if floor:
        lower[low0:card] = 0.0
        upper[low0:card] = _INF
    lower[card] = upper[card] = p
    if site_point is not None:
        own = np.flatnonzero(site_point[site] == point)
        lower[link0 + own] = 0.0
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    lp.col_cost_ = np.r_[np.zeros(n_sites), cost]
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.ones(n_cols)
    lp.row_lower_, lp.row_upper_ = lower, upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_cols, n_rows
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n_cols
    return lp


class CentrePlanner:
    """Capacitated p-median: ``p`` territories with free centres, balanced by a capacity (and
    optionally a floor) on each territory's demand.

    Parameters
    ----------
    coords : array (n, 2)
        Planar ``x, y`` or, with ``metric="haversine"``, ``latitude, longitude`` in degrees.
    demand : array (n,)
        What a point loads its centre with (hours a year for accounts).
    p : int
        Number of centres (territories).
    capacity : float
        Most demand one centre may serve.
    min_load : float
        Least demand an open centre must serve (0: no floor).
    weights : array (n,), optional
        Multiplies each point's distance in the objective (default 1: total distance).
    metric : {"euclidean", "euclidean_floor", "haversine"}
        Distance; ``euclidean_floor`` rounds down (the OR-Library convention), ``haversine``
        is great-circle km.
    sites : array of int, optional
        Points allowed to be centres (default: every point).
    candidates : int, optional
        Nearest sites offered to each point before pricing adds others (default from n/p).
    time_limit : float
        Seconds for the whole solve; the bound is computed first, then the plan improved until
        the time is spent or no neighbourhood improves.
    threads : int, optional
        Neighbourhood MILPs solved at once (default: the CPUs this process may use, at most
        ``_BATCH``). They change how fast the plan improves, not which plan a search that
        runs to its end returns.

    Attributes
    ----------
    centres_ : array of int
        Points chosen as centres, sorted.
    assignment_ : array of int
        For every point, the point that is its centre.
    objective_, bound_, gap_ : float
        Cost of the plan, a lower bound on the best possible cost, and the relative gap.
    loads_ : array
        Demand served by each centre in ``centres_``.
    seconds_ : float
        Wall time of ``solve``.
    """

    def __init__(
        self,
        coords,
        demand,
        p: int,
        capacity: float,
        *,
        min_load: float = 0.0,
        weights=None,
        metric: str = "euclidean",
        sites=None,
        candidates: int | None = None,
        time_limit: float = 10.0,
        threads: int | None = None,
    ) -> None:
        self.coords = np.asarray(coords, float)
        self.demand = np.asarray(demand, float)
        self.n = len(self.demand)
        self.p = int(p)
        self.capacity = float(capacity)
        self.min_load = float(min_load)
        self.weights = np.ones(self.n) if weights is None else np.asarray(weights, float)
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, not {metric!r}")
        self.metric = metric
        self.sites = np.arange(self.n) if sites is None else np.asarray(sites, int)
        self.time_limit = float(time_limit)
        self.threads = max(1, min(_BATCH, threads or _cpus()))
        self._seen: set = set()  # neighbourhoods (centres, points) re-solved already
        self._moves: dict = {}  # (neighbourhood, -1 or +1 centre): its re-solve (see _swap)
        self._pool: ThreadPoolExecutor | None = None
        ns = len(self.sites)
        self.candidates = min(ns, candidates or max(12, int(np.ceil(2 * self.n / self.p))))
        self._check()
        self._space = unit_vectors(*self.coords.T) if metric == "haversine" else self.coords
        self._tree = cKDTree(self._space[self.sites])
        self._pos = np.full(self.n, -1)  # each point's position among the sites (-1: none)
        self._pos[self.sites] = np.arange(len(self.sites))

    def _check(self) -> None:
        n, p = self.n, self.p
        if self.coords.shape != (n, 2) or len(self.weights) != n:
            raise ValueError("coords must be n x 2 and weights n long, n = len(demand)")
        if not 1 <= p <= len(self.sites):
            raise InfeasibleRequest(f"p = {p} centres but {len(self.sites)} candidate sites")
        total = self.demand.sum()
        if total > p * self.capacity + 1e-9:
            raise InfeasibleRequest(
                f"total demand {total:,.1f} exceeds {p} centres x capacity "
                f"{self.capacity:,.1f} = {p * self.capacity:,.1f}; at least "
                f"{int(np.ceil(total / self.capacity))} centres are needed"
            )
        if total < p * self.min_load - 1e-9:
            raise InfeasibleRequest(
                f"total demand {total:,.1f} is below {p} centres x floor {self.min_load:,.1f}"
            )
        big = np.flatnonzero(self.demand > self.capacity)
        if len(big):
            raise InfeasibleRequest(
                f"{len(big)} point(s) alone exceed the capacity {self.capacity:,.1f}, "
                f"e.g. point {big[0]} with demand {self.demand[big[0]]:,.1f}"
            )

    # ------------------------------------------------------------------ distances
    def distance(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Distance between points ``i`` and ``j`` (arrays of point indices, broadcast)."""
        return Points(self.coords, self.metric).distance(i, j)

    def cost(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Objective cost of serving points ``i`` from centres at points ``j``."""
        return self.weights[i] * self.distance(i, j)

    def evaluate(self, assignment: np.ndarray) -> float:
        """Cost of a plan given as each point's centre (point index)."""
        return float(self.cost(np.arange(self.n), np.asarray(assignment)).sum())

    def _loads(self, assignment: np.ndarray) -> dict[int, float]:
        c, inv = np.unique(assignment, return_inverse=True)
        loads = np.bincount(inv, weights=self.demand)
        return dict(zip(c.tolist(), loads.tolist(), strict=True))

    def feasible(self, assignment: np.ndarray) -> bool:
        """True when the plan opens ``p`` allowed centres within capacity and floor."""
        loads = self._loads(assignment)
        v = np.array(list(loads.values()))
        return (
            len(loads) == self.p
            and bool(np.isin(list(loads), self.sites).all())
            and bool((v <= self.capacity + 1e-9).all() and (v >= self.min_load - 1e-9).all())
        )

    # ------------------------------------------------------------------ bound
    def _nearest_arcs(
        self, sites: np.ndarray, k: int, plan: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each point's ``k`` nearest of ``sites`` (positions in ``self.sites``) plus every
        site's own point (and, given a ``plan``, each point's centre in it), as unique
        (point, site) arcs sorted by key."""
        ns = len(self.sites)
        k = min(k, len(sites))
        tree = self._tree if len(sites) == ns else cKDTree(self._space[self.sites[sites]])
        _, nb = tree.query(self._space, k)
        nb = sites[np.asarray(nb).reshape(self.n, -1)]
        keys = np.r_[
            (np.arange(self.n)[:, None] * ns + nb).ravel(),
            self.sites[sites] * ns + sites,
        ]
        if plan is not None:
            keys = np.r_[keys, np.arange(self.n) * ns + self._pos[plan]]
        keys = np.unique(keys)
        return keys // ns, keys % ns

    def _model(self, point, site, integer=False, open_only=None) -> highspy.HighsLp:
        lp = cpmp_model(
            self.cost(point, self.sites[site]),
            point,
            site,
            self.demand,
            len(self.sites),
            self.p,
            self.capacity,
            self.min_load,
            integer=integer,
            site_point=self.sites,
        )
        if open_only is not None:  # sites outside ``open_only`` stay closed
            upper = np.asarray(lp.col_upper_).copy()
            closed = np.ones(len(self.sites), bool)
            closed[open_only] = False
            upper[: len(self.sites)][closed] = 0.0
            lp.col_upper_ = upper
        return lp

    def _relaxation(self, deadline: float) -> tuple[np.ndarray, float]:
        """LP relaxation with column generation; returns (site values y, valid bound)."""
        n, ns = self.n, len(self.sites)
        point, site = self._nearest_arcs(np.arange(ns), self.candidates)
        bound, y = -np.inf, np.zeros(ns)
        h = _highs()
        h.passModel(self._model(point, site))
        while True:
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                raise InfeasibleRequest(
                    "no fractional plan meets the capacity and floor on the nearest sites"
                )
            sol = h.getSolution()
            lp_value = h.getInfo().objective_function_value
            y = np.asarray(sol.col_value[:ns])
            dual = np.asarray(sol.row_dual)
            v = dual[n : n + ns]
            if self.min_load > 0:
                v = v + dual[n + ns : n + 2 * ns]
            keys = np.sort(point * ns + site)
            corr, new = self._price(dual[:n], v, keys)
            bound = max(bound, lp_value + corr)
            if not len(new) or corr > -1e-4 * abs(lp_value) or time.perf_counter() > deadline:
                break
            self._extend(h, new // ns, new % ns)
            point, site = np.r_[point, new // ns], np.r_[site, new % ns]
        self._arcs = (point, site)
        self._lp = h
        self.arcs_ = len(point)
        return y, bound

    def _extend(self, h: highspy.Highs, point: np.ndarray, site: np.ndarray) -> None:
        """Add arcs to the LP in place (a linking row each, then the column), so that the
        next run starts from the last basis."""
        n, ns, m = self.n, len(self.sites), len(point)
        r0 = h.getNumRow()
        h.addRows(
            m,
            np.full(m, -_INF),
            np.zeros(m),
            m,
            np.arange(m, dtype=np.int32),
            site.astype(np.int32),
            -np.ones(m),
        )
        rows = [point, n + site, r0 + np.arange(m)]
        vals = [np.ones(m), self.demand[point], np.ones(m)]
        if self.min_load > 0:
            rows.insert(2, n + ns + site)
            vals.insert(2, self.demand[point])
        k = len(rows)
        h.addCols(
            m,
            self.cost(point, self.sites[site]),
            np.zeros(m),
            np.ones(m),
            k * m,
            (np.arange(m) * k).astype(np.int32),
            np.column_stack(rows).ravel().astype(np.int32),
            np.column_stack(vals).ravel(),
        )

    def _price(self, u: np.ndarray, v: np.ndarray, keys: np.ndarray) -> tuple[float, np.ndarray]:
        """Price every (point, site) arc not in ``keys`` (sorted); return the Lagrangian
        correction ``sum_i min(0, min_s reduced cost)`` and the arcs to add (up to 5 per point
        with a negative reduced cost)."""
        n, ns = self.n, len(self.sites)
        per = max(1, 4_000_000 // ns)
        corr, new = 0.0, []
        for s0 in range(0, n, per):
            pts = np.arange(s0, min(n, s0 + per))
            red = (
                self.cost(pts[:, None], self.sites[None, :])
                - u[pts][:, None]
                - self.demand[pts][:, None] * v[None, :]
            )
            ck = pts[:, None] * ns + np.arange(ns)[None, :]
            at = np.minimum(np.searchsorted(keys, ck), len(keys) - 1)
            red[keys[at] == ck] = np.inf
            corr += float(np.minimum(red.min(axis=1), 0).sum())
            k = min(5, ns)
            idx = np.argpartition(red, k - 1, axis=1)[:, :k]
            take = np.take_along_axis(red, idx, 1) < -1e-9
            new.append(np.take_along_axis(ck, idx, 1)[take])
        return corr, np.concatenate(new) if new else np.zeros(0, int)

    # ------------------------------------------------------------------ plans
    def _mip(self, point, site, deadline, assign=None, open_only=None, gap=1e-6):
        """MILP over the arcs (point, site) from the plan ``assign`` if given; returns (plan or
        ``None``, the MILP's dual bound)."""
        ns = len(self.sites)
        lp = self._model(point, site, integer=True, open_only=open_only)
        h = _highs(deadline - time.perf_counter())
        h.setOptionValue("mip_rel_gap", gap)
        h.passModel(lp)
        if assign is not None:
            start = np.zeros(lp.num_col_)
            start[self._pos[np.unique(assign)]] = 1.0
            start[ns + np.flatnonzero(site == self._pos[assign][point])] = 1.0
            _start(h, start)
        h.run()
        info = h.getInfo()
        if info.primal_solution_status != 2:
            return None, -np.inf
        x = np.asarray(h.getSolution().col_value[ns:]) > 0.5
        plan = np.empty(self.n, int)
        plan[point[x]] = self.sites[site[x]]
        bound = float(info.mip_dual_bound)
        return (plan if self.feasible(plan) else None), bound if np.isfinite(bound) else -np.inf

    def _dive(self, y: np.ndarray, deadline: float) -> np.ndarray:
        """Open p sites by diving on the LP: fix every site near 1 open, then the largest
        fractional ones (a tenth of those still to open, at least one), re-solve (warm), and
        repeat; returns the p sites."""
        h, ns = self._lp, len(self.sites)
        fixed = np.zeros(ns, bool)
        while time.perf_counter() < deadline:
            ones = np.flatnonzero((y > 1 - 1e-6) | fixed)
            if len(ones) >= self.p:
                break
            frac = np.where(fixed | (y > 1 - 1e-6), -1.0, y)
            step = max(1, (self.p - len(ones)) // 10)
            best = np.argsort(-frac, kind="stable")[:step]
            fix = np.union1d(np.flatnonzero((y > 0.99) & ~fixed), best[frac[best] > 0])
            if not len(fix):
                break
            for j in fix:
                h.changeColBounds(int(j), 1.0, 1.0)
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                for j in fix:  # cannot open those together: leave the last one closed
                    h.changeColBounds(int(j), 0.0, 1.0)
                h.changeColBounds(int(fix[-1]), 0.0, 0.0)
                h.run()
                y = np.asarray(h.getSolution().col_value[:ns])
                continue
            fixed[fix] = True
            y = np.asarray(h.getSolution().col_value[:ns])
        return np.lexsort((np.arange(ns), -(np.round(y, 6) + fixed)))[: self.p]

    def _first(self, y: np.ndarray, deadline: float) -> np.ndarray:
        """A first plan: p sites from a dive on the LP, each point to one of its nearest open
        sites (a small generalised-assignment MILP)."""
        top = np.sort(self._dive(y, deadline))
        for k in (8, 16, self.p):
            point, site = self._nearest_arcs(top, k)
            plan, _ = self._mip(
                point, site, max(deadline, time.perf_counter() + 5), open_only=top, gap=1e-3
            )
            if plan is not None:
                return plan
            if k >= self.p:
                break
        raise InfeasibleRequest(
            "the points cannot be packed into the centres the LP prefers within the capacity "
            "and floor; raise the capacity or lower the floor"
        )

    def _support(self, y: np.ndarray, plan: np.ndarray, deadline: float) -> np.ndarray:
        """The MILP with centres restricted to the LP's support (and the plan's centres),
        each point offered its nearest 12 of them, started from ``plan``."""
        support = np.union1d(np.flatnonzero(y > 1e-6), self._pos[np.unique(plan)])
        point, site = self._nearest_arcs(support, 12, plan)
        better, _ = self._mip(point, site, deadline, plan, support, gap=1e-4)
        if better is not None and self.evaluate(better) < self.evaluate(plan):
            return better
        return plan

    def _alternate(self, assign: np.ndarray, deadline: float) -> np.ndarray:
        """Location-allocation: move every centre to the member point that serves its
        territory at least cost (loads unchanged), then re-allocate all points to the new
        centres (the assignment MILP started from the current plan); repeat while it helps."""
        cost = self.evaluate(assign)
        while time.perf_counter() < deadline:
            new = assign.copy()
            order = np.argsort(assign, kind="stable")
            bounds = np.flatnonzero(np.diff(np.r_[-1, assign[order], self.n]))
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                members = order[a:b]
                cand = members[self._pos[members] >= 0]
                if len(cand) < 2:
                    continue
                total = self.cost(members[:, None], cand[None, :]).sum(axis=0)
                new[members] = cand[int(total.argmin())]
            centres = self._pos[np.unique(new)]
            point, site = self._nearest_arcs(centres, 8, new)
            plan, _ = self._mip(point, site, deadline, new, centres, gap=1e-4)
            plan = new if plan is None or self.evaluate(plan) > self.evaluate(new) else plan
            value = self.evaluate(plan)
            if value >= cost - 1e-9 * abs(cost):
                break
            assign, cost = plan, value
        return assign

    def _neighbourhood(
        self, assign: np.ndarray, group: np.ndarray, deadline: float, count: int | None = None
    ):
        """Re-solve the points of centres ``group`` exactly as a small p-median with ``count``
        centres (default: as many as now), for at most ``_LIMIT`` seconds and not past ``deadline``;
        returns (points, their new centres, cost) or ``None`` when no plan was found."""
        count = len(group) if count is None else count
        limit = min(_LIMIT, deadline - time.perf_counter())  # read when the job starts
        if limit <= 0:
            return None
        pts = np.flatnonzero(np.isin(assign, group))
        allowed = pts[np.isin(pts, self.sites)]
        if count < 1 or len(allowed) < count:
            return None
        na = len(allowed)
        k = min(na, max(12, 3 * len(pts) // len(group)))
        _, near = cKDTree(self._space[allowed]).query(self._space[pts], k)
        near = np.asarray(near).reshape(len(pts), -1)
        local = np.full(self.n, -1)
        local[allowed] = np.arange(na)
        cur = local[assign[pts]]
        # the current centre and a site's own point are always arcs; no arc twice (HiGHS
        # 1.16's presolve mangles a MIP start when columns are duplicates)
        keys = np.unique(
            np.r_[
                (np.arange(len(pts))[:, None] * na + np.column_stack([near, cur])).ravel(),
                np.searchsorted(pts, allowed) * na + np.arange(na),
            ]
        )
        point, site = keys // na, keys % na
        lp = cpmp_model(
            self.cost(pts[point], allowed[site]),
            point,
            site,
            self.demand[pts],
            na,
            count,
            self.capacity,
            self.min_load,
            integer=True,
            site_point=np.searchsorted(pts, allowed),
        )
        h = _highs(limit)
        h.passModel(lp)
        if count == len(group):  # the current plan, as the MILP's first incumbent
            start = np.zeros(lp.num_col_)
            start[np.unique(cur)] = 1.0
            start[na + np.flatnonzero(site == cur[point])] = 1.0
            _start(h, start)
        h.run()
        if h.getInfo().primal_solution_status != 2:
            return None
        x = np.asarray(h.getSolution().col_value[na:]) > 0.5
        new = np.empty(len(pts), int)
        new[point[x]] = allowed[site[x]]
        return pts, new, float(self.cost(pts, new).sum())

    def _improve(
        self, assign: np.ndarray, deadline: float, largest: int = 12, size: int = 2
    ) -> np.ndarray:
        """Fix and optimise over growing neighbourhoods of nearby centres (up to ``largest``)
        until a full pass finds nothing or the time is spent.

        Neighbourhoods are taken in batches of ``_BATCH`` that share no centre (hence no
        point), formed from the plan as it stands, and solved on ``threads`` threads at once;
        every improvement of a batch is then kept, since they touch different points. The
        batches do not depend on ``threads``, so neither does the plan (short of the time
        limit)."""
        while time.perf_counter() < deadline and size <= min(self.p, largest):
            improved = False
            centres = np.unique(assign)
            cost_of = np.bincount(
                np.searchsorted(centres, assign),
                weights=self.cost(np.arange(self.n), assign),
                minlength=len(centres),
            )
            queue = centres[np.argsort(-cost_of, kind="stable")].tolist()
            while queue and time.perf_counter() < deadline:
                batch, queue = self._batch(assign, queue, size)
                results = self._each(self._neighbourhood, [(assign, g, deadline) for g, _ in batch])
                assign = assign.copy()  # the jobs are done reading the plan
                for (_, old), res in zip(batch, results, strict=True):
                    if res is not None and res[2] < old - 1e-9 * max(1.0, abs(old)):
                        assign[res[0]] = res[1]
                        improved = True
            if not improved:
                size += 1
        return assign

    def _each(self, fn, args: list[tuple]) -> list:
        """``fn(*a)`` for every ``a`` in ``args``, on the solve's threads when it has them."""
        if self._pool is None or len(args) < 2:
            return [fn(*a) for a in args]
        jobs = [self._pool.submit(fn, *a) for a in args]
        return [job.result() for job in jobs]

    def _swap(self, assign: np.ndarray, deadline: float, size: int = 3) -> np.ndarray | None:
        """Move centres from where they help least to where they help most.

        For every centre's neighbourhood (it and its ``size - 1`` nearest centres) the small
        p-median is solved with one centre fewer and with one more. The largest gains from an
        extra centre are paired with the smallest losses from one fewer, in neighbourhoods
        that share no centre, while the pair saves cost; the count of centres stays ``p``.
        Results are kept for neighbourhoods whose points have not changed. Returns the new
        plan, or ``None`` when no pair saves anything."""
        centres = np.unique(assign)
        tree = cKDTree(self._space[centres])
        groups, jobs = [], []
        for c in centres:
            if time.perf_counter() > deadline:
                break
            group, members, key = self._group(assign, centres, tree, c, size)
            old = float(self.cost(members, assign[members]).sum())
            groups.append((group, key, old))
            load = self.demand[members].sum()
            for step in (-1, 1):
                count = len(group) + step
                fits = count * self.min_load - 1e-9 <= load <= count * self.capacity + 1e-9
                if not fits:  # no plan: the loads cannot fit that many centres
                    self._moves[key, step] = None
                if (key, step) not in self._moves:
                    jobs.append((key, step, group))
        for at in range(0, len(jobs), 4 * _BATCH):
            if time.perf_counter() > deadline:
                break
            chunk = jobs[at : at + 4 * _BATCH]
            args = [(assign, g, deadline, len(g) + step) for _, step, g in chunk]
            for (key, step, _), res in zip(
                chunk, self._each(self._neighbourhood, args), strict=True
            ):
                self._moves[key, step] = res
        deltas = {}
        for step in (-1, 1):
            deltas[step] = [
                (res[2] - old, i)
                for i, (_, key, old) in enumerate(groups)
                if (res := self._moves.get((key, step))) is not None
            ]
        less = sorted(deltas[-1])[:200]
        more = sorted(deltas[1])[:200]
        pairs = sorted(
            (a + b, i, j) for a, i in more for b, j in less if a + b < -1e-9 * abs(b) and i != j
        )
        new, used = assign.copy(), set()
        for _, i, j in pairs:
            gi, gj = set(groups[i][0].tolist()), set(groups[j][0].tolist())
            if gi & gj or gi & used or gj & used:
                continue
            used |= gi | gj
            for k, step in ((i, 1), (j, -1)):
                pts, cen, _ = self._moves[groups[k][1], step]
                new[pts] = cen
        return new if used else None

    def _group(
        self, assign: np.ndarray, centres: np.ndarray, tree: cKDTree, c: int, size: int
    ) -> tuple[np.ndarray, np.ndarray, tuple]:
        """Centre ``c`` and its ``size - 1`` nearest ``centres`` (``tree`` is over them), the
        points they serve in ``assign``, and a key naming both."""
        _, near = tree.query(self._space[c], min(size, len(centres)))
        group = np.sort(centres[np.atleast_1d(near)])
        members = np.flatnonzero(np.isin(assign, group))
        return group, members, (tuple(group.tolist()), hash(members.tobytes()))

    def _batch(
        self, assign: np.ndarray, queue: list[int], size: int
    ) -> tuple[list[tuple[np.ndarray, float]], list[int]]:
        """Up to ``_BATCH`` neighbourhoods (each centre of ``queue`` with its ``size - 1``
        nearest centres) that share no centre and were not tried on the same points before;
        returns them with their current cost, and the queue left (a centre whose group
        overlaps one already taken waits for the next batch)."""
        centres = np.unique(assign)
        alive = set(centres.tolist())
        tree = cKDTree(self._space[centres])
        batch: list[tuple[np.ndarray, float]] = []
        used: set[int] = set()
        rest: list[int] = []
        for at, c in enumerate(queue):
            if len(batch) >= _BATCH:
                rest.extend(queue[at:])
                break
            if c not in alive:
                continue
            group, members, key = self._group(assign, centres, tree, c, size)
            if used.intersection(group.tolist()):
                rest.append(c)
                continue
            if key in self._seen or len(members) > 200:
                continue
            self._seen.add(key)
            used.update(group.tolist())
            batch.append((group, float(self.cost(members, assign[members]).sum())))
        return batch, rest

    def solve(self) -> CentrePlanner:
        """Bound, first plan, improvement (and the exact MILP when small); returns self."""
        t0 = time.perf_counter()
        self._seen, self._moves = set(), {}
        with ThreadPoolExecutor(self.threads) as self._pool:
            try:
                assign, bound = self._search(t0, t0 + self.time_limit)
            finally:
                self._pool = None
        self.assignment_ = assign
        self.centres_ = np.unique(assign)
        self.objective_ = self.evaluate(assign)
        self.bound_ = min(bound, self.objective_)
        self.gap_ = (self.objective_ - self.bound_) / self.objective_ if self.objective_ else 0.0
        loads = self._loads(assign)
        self.loads_ = np.array([loads[c] for c in self.centres_.tolist()])
        self.seconds_ = time.perf_counter() - t0
        return self

    def _search(self, t0: float, deadline: float) -> tuple[np.ndarray, float]:
        """The steps of ``solve`` from ``t0`` to ``deadline``; returns (plan, bound)."""
        y, bound = self._relaxation(t0 + 0.3 * (deadline - t0))

        def share(f: float) -> float:
            now = time.perf_counter()
            return now + f * max(0.0, deadline - now)

        assign = self._first(y, share(0.1))
        ns = len(self.sites)
        dense = self.n * ns <= _DENSE
        if self.arcs_ <= _SUPPORT:
            assign = self._improve(assign, share(0.15 if dense else 0.25), largest=3)
            assign = self._support(y, assign, share(0.3 if dense else 0.6))
        if dense:
            point, site = np.repeat(np.arange(self.n), ns), np.tile(np.arange(ns), self.n)
            plan, mip_bound = self._mip(point, site, deadline, assign=assign)
            bound = max(bound, mip_bound)
            if plan is not None and self.evaluate(plan) < self.evaluate(assign):
                assign = plan
        else:
            # location-allocation helps small plans; on large ones (p3038: 27 s of 110 for
            # 13.7% above the best known to 6.4%) the neighbourhoods get further without it
            if self.arcs_ <= _SUPPORT:
                assign = self._alternate(assign, share(0.3))
            # nearby neighbourhoods until none improves, then move centres between them
            assign = self._improve(assign, deadline, size=4, largest=4)
            while (moved := self._swap(assign, deadline)) is not None:
                assign = self._improve(moved, deadline, size=4, largest=4)
            assign = self._improve(assign, deadline, size=5)
        return assign, bound
