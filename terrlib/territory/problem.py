"""The territory problem: built once from the frames, then read by every step of the solver.

A :class:`TerritoryProblem` holds the accounts and rep homes as arrays, the balance bands, the
cost of every arc (account i served from territory k) on demand, and how any assignment scores
against the rules. It is frozen: a step that needs other bands asks for a copy
(:meth:`TerritoryProblem.with_bands`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from terrlib.geo import EARTH_RADIUS_KM


class InfeasibleRequest(ValueError):
    """The balance rules cannot all hold; the message says which and what would.

    ``tolerance`` is the tightest tolerance the diagnosis found can be met (``None`` when
    none up to ±100% can, or no diagnosis was made)."""

    def __init__(self, message: str, tolerance: float | None = None):
        super().__init__(message)
        self.tolerance = tolerance


def unit_vectors(lat, lon) -> np.ndarray:
    """Points on the unit sphere, so that a KD-tree's chord distance orders great circles."""
    la, lo = np.radians(np.asarray(lat, float)), np.radians(np.asarray(lon, float))
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


#: The request's settings a problem is built from, with their defaults: the estimator's
#: parameters other than the two frames and the time limit (see
#: :class:`~terrlib.territory.estimator.TerritoryOptimizer` for what each means).
SETTINGS: dict[str, Any] = {
    "tolerance": 0.10,
    "potential_tolerance": None,
    "disruption": 1.0,
    "max_moved_share": None,
    "reach_km": None,
    "circuity": 1.0,
    "cross_regions": False,
    "territory_tolerance": None,
    "cap_by": "accounts",
    "visits_per_call": 0.2,
    "travel_speed_kmh": 70.0,
    "min_travel_minutes": 10.0,
    "candidates": 8,
    "distances": None,
    "travel_weight": "call_hours",
    "compactness": 0.0,
    "tidy": 0.0,
    "balance_potential": True,
    "totals": None,
}


#: the share of today's accounts within the default reach of their rep (see default_reach)
REACH_SHARE = 0.8
#: an account with no territory today may always go to this many of its region's nearest homes
NEAREST_ONES = 2


class Bands(NamedTuple):
    """Each territory's tolerances below and above its workload and potential targets:
    its band is ``[(1 - lo) x target, (1 + hi) x target]``."""

    w_lo: np.ndarray
    w_hi: np.ndarray
    p_lo: np.ndarray
    p_hi: np.ndarray


def _floors(ids: np.ndarray, given: dict | None) -> np.ndarray:
    """Each territory's least tolerances (columns: workload below and above target,
    potential below and above) from ``territory_tolerance``, whose values are one tolerance
    for all four, a (workload, potential) pair or all four; 0 for the rest."""
    floor = np.zeros((len(ids), 4))
    if not given:
        return floor
    index = {t: k for k, t in enumerate(ids)}
    unknown = sorted(set(map(str, given)) - set(index))
    if unknown:
        raise ValueError(f"territory_tolerance names territories that do not exist: {unknown}")
    for t, value in given.items():
        v = np.atleast_1d(np.asarray(value, float))
        floor[index[str(t)]] = np.repeat(v, 2) if len(v) == 2 else np.broadcast_to(v, 4)
    return floor


def _region_codes(acc: pd.DataFrame, ter: pd.DataFrame):
    """Region codes of accounts and territories when both have a ``region``: an account
    whose region has no territory gets -1 (it may go to any region); (None, None) without
    regions."""
    if "region" not in acc or "region" not in ter:
        return None, None
    t_reg = ter["region"].astype(str).to_numpy()
    names = {r: k for k, r in enumerate(dict.fromkeys(t_reg))}
    a_reg = acc["region"].astype(str).map(names).fillna(-1).astype(int).to_numpy()
    return a_reg, np.array([names[r] for r in t_reg])


def _coordinates(acc: pd.DataFrame | None, ter: pd.DataFrame | None) -> dict:
    """Accounts' and homes' degrees and radians (with the cosine of latitude) as the
    problem's fields; every one None without frames (distances given instead)."""
    keys = ("lat", "lon", "home_lat", "home_lon", "radians", "home_radians")
    if acc is None or ter is None:
        return dict.fromkeys(keys)
    coords = {
        "lat": acc["latitude"].to_numpy(float),
        "lon": acc["longitude"].to_numpy(float),
        "home_lat": ter["home_latitude"].to_numpy(float),
        "home_lon": ter["home_longitude"].to_numpy(float),
    }
    for key, la, lo in (("radians", "lat", "lon"), ("home_radians", "home_lat", "home_lon")):
        lat, lon = np.radians(coords[la]), np.radians(coords[lo])
        coords[key] = (lat, lon, np.cos(lat))
    return coords


def _keep_weight(acc: pd.DataFrame, rev_weight: np.ndarray) -> np.ndarray:
    """Each account's weight in the cost of moving it: its size (``rev_weight``, revenue
    against the mean), and as much again what it bought in the last year (``bookings``
    against the mean) when the accounts say. A rep's biggest customer is not handed to a
    rep four times farther away to fill that rep's hours: on the demo's 2026Q3 one with
    36% of its rep's bookings was, its size being ordinary."""
    if "bookings" not in acc:
        return rev_weight
    booked = acc["bookings"].fillna(0.0).to_numpy(float).clip(min=0.0)
    if booked.sum() <= 0:
        return rev_weight
    return (rev_weight + booked / booked.mean()) / 2


def default_reach(problem: TerritoryProblem) -> float:
    """The plan's reach when none is given, in km (rounded up to 10): the distance within
    which today's reps serve four in five (:data:`REACH_SHARE`) of their accounts, and at
    least the distance from the typical account (the median) to its second-nearest rep
    home in its region, so that most accounts have a choice. On a green field only the
    second. Infinite for a single territory."""
    p = problem
    if p.m < 2:
        return np.inf
    second = np.median(p.nth_nearest(np.arange(p.n), NEAREST_ONES))
    has = np.flatnonzero(p.current >= 0)
    today = np.quantile(p.dist(has, p.current[has]), REACH_SHARE) if has.size else 0.0
    reach = max(float(today), float(second))
    return float(np.ceil(reach / 10) * 10) if np.isfinite(reach) else np.inf


@dataclass(frozen=True, eq=False)
class TerritoryProblem:
    """Accounts ``0..n-1`` and territories ``0..m-1`` as arrays, and the rules.

    Build it with :meth:`build`; the fields are what the steps read. ``current`` is each
    account's territory today (-1 for none), ``share`` each territory's share of the totals,
    ``weight`` each account's weight in travel, ``spread`` the weight every account's distance
    adds on top (``compactness`` times the average weight), ``penalty`` the cost of moving
    it, ``cap`` the
    most moved weight allowed (``inf`` for no cap) and ``p_tol`` potential's band (1e6 when
    potential is not balanced). ``reach`` is the plan's reach in km (given, or
    :func:`default_reach`), ``radius`` each account's own: the farthest rep home it may go to
    (see :meth:`allowed`). ``acc_region`` and ``ter_region`` are region codes (None when moves
    may cross regions; -1 for an account whose region has no territory), ``floor`` each
    territory's least workload and potential tolerance (``territory_tolerance``; 0 for the
    plan's).
    """

    accounts: pd.DataFrame
    territories: pd.DataFrame
    settings: dict[str, Any]
    n: int
    m: int
    ids: np.ndarray
    current: np.ndarray
    call_time: np.ndarray
    trips: np.ndarray
    potential: np.ndarray
    share: np.ndarray
    weight: np.ndarray
    locked: np.ndarray
    max_accounts: np.ndarray | None
    distances: np.ndarray | None
    lat: np.ndarray | None
    lon: np.ndarray | None
    home_lat: np.ndarray | None
    home_lon: np.ndarray | None
    radians: tuple | None
    home_radians: tuple | None
    radius: np.ndarray
    acc_region: np.ndarray | None
    ter_region: np.ndarray | None
    floor: np.ndarray
    reach: float
    penalty: np.ndarray
    spread: float
    move_weight: np.ndarray
    cap: float
    tolerance: float
    p_tol: float
    #: each account's anchor territory and the cost of serving it from any other (see
    #: :mod:`terrlib.territory.tidy`); None for no anchor
    anchor: np.ndarray | None = None
    anchor_cost: float = 0.0

    @classmethod
    def build(
        cls, accounts: pd.DataFrame, territories: pd.DataFrame, **given: Any
    ) -> TerritoryProblem:
        """The problem of assigning ``accounts`` to ``territories`` under the settings
        ``given`` (any of :data:`SETTINGS`; the rest keep their defaults).

        Raises
        ------
        TypeError
            For a name that is not a setting.
        """
        unknown = set(given) - set(SETTINGS)
        if unknown:
            raise TypeError(f"not settings of a territory problem: {sorted(unknown)}")
        settings = SETTINGS | given
        tolerance, potential_tolerance = settings["tolerance"], settings["potential_tolerance"]
        distances = settings["distances"]
        max_moved_share, travel_weight = settings["max_moved_share"], settings["travel_weight"]
        disruption, balance_potential = settings["disruption"], settings["balance_potential"]
        acc = accounts.reset_index(drop=True)
        ter = territories.reset_index(drop=True)
        n, m = len(acc), len(ter)
        ids = ter["territory_id"].astype(str).to_numpy()
        index = {t: k for k, t in enumerate(ids)}
        current = acc["territory_id"].astype(str).map(index).fillna(-1).astype(int).to_numpy()
        call_time = acc["call_hours"].to_numpy(float)
        calls = acc["calls"].to_numpy(float) if "calls" in acc else call_time
        share = ter["capacity"].to_numpy(float)
        revenue = acc["revenue"].to_numpy(float) if "revenue" in acc else np.ones(n)
        weight = call_time if travel_weight == "call_hours" else np.ones(n)
        locked = (acc["locked"].to_numpy(bool) if "locked" in acc else np.zeros(n, bool)) & (
            current >= 0
        )
        coords = _coordinates(acc, ter) if distances is None else _coordinates(None, None)
        if distances is not None:
            distances = np.asarray(distances, float)
        rev_weight = revenue / max(revenue.mean(), 1e-12)
        # an account counts once towards the cap on moves (a unit of grouped accounts, see
        # terrlib.territory.groups, as many times as it has accounts)
        count = acc["account_count"].to_numpy(float) if "account_count" in acc else np.ones(n)
        move_weight = rev_weight if settings["cap_by"] == "revenue" else count
        problem = cls(
            accounts=acc,
            territories=ter,
            settings=settings,
            n=n,
            m=m,
            ids=ids,
            current=current,
            call_time=call_time,
            trips=2 * calls * settings["visits_per_call"],  # one-way legs a year
            potential=acc["potential"].to_numpy(float),
            share=share / share.sum(),
            weight=weight,
            locked=locked,
            max_accounts=ter["max_accounts"].to_numpy(float) if "max_accounts" in ter else None,
            distances=distances,
            **coords,
            radius=np.full(n, np.inf),
            acc_region=None,
            ter_region=None,
            floor=_floors(ids, settings["territory_tolerance"]),
            reach=np.inf,
            penalty=np.zeros(n),
            spread=float(settings["compactness"]) * (float(weight.mean()) or 1.0),
            move_weight=move_weight,
            cap=(np.inf if max_moved_share is None else max_moved_share * move_weight.sum() + 1e-9),
            tolerance=float(tolerance),
            p_tol=(
                1e6
                if not balance_potential
                else float(tolerance if potential_tolerance is None else potential_tolerance)
            ),
        )
        scale = problem.typical_cost()
        regions = _region_codes(acc, ter) if not settings["cross_regions"] else (None, None)
        problem = dataclasses.replace(
            problem,
            acc_region=regions[0],
            ter_region=regions[1],
            penalty=float(disruption) * scale * _keep_weight(acc, rev_weight),
        )
        reach = settings["reach_km"]
        reach = default_reach(problem) if reach is None else float(reach)
        return dataclasses.replace(problem, reach=reach, radius=problem.radii(reach))

    def with_bands(self, tolerance: float, p_tol: float) -> TerritoryProblem:
        """The same problem with other workload and potential bands."""
        return dataclasses.replace(self, tolerance=float(tolerance), p_tol=float(p_tol))

    def bands(self, tol: float | None = None, p_tol: float | None = None) -> Bands:
        """Each territory's tolerances: ``tol`` and ``p_tol`` (the problem's by default),
        or its own ``territory_tolerance`` where that is wider."""
        t = self.tolerance if tol is None else tol
        tp = self.p_tol if p_tol is None else p_tol
        f = self.floor
        return Bands(
            np.maximum(t, f[:, 0]),
            np.maximum(t, f[:, 1]),
            np.maximum(tp, f[:, 2]),
            np.maximum(tp, f[:, 3]),
        )

    # ------------------------------------------------------------------ reach

    def nth_nearest(self, rows: np.ndarray, q: int, chunk: int = 2_000_000) -> np.ndarray:
        """Kilometres from accounts ``rows`` to their ``q``-th nearest rep home in their
        region (of any region when moves may cross or the account's region has none)."""
        m = self.m
        q = min(q, m)
        out = np.empty(len(rows))
        per = max(1, chunk // m)
        for start in range(0, len(rows), per):
            r = rows[start : start + per]
            rr, cc = np.repeat(r, m), np.tile(np.arange(m), len(r))
            d = self.dist(rr, cc).reshape(len(r), m)
            if self.acc_region is not None:
                ar = self.acc_region[r][:, None]
                other = (ar >= 0) & (ar != self.ter_region[None, :])
                d = np.where(other & (other.sum(1, keepdims=True) < m), np.inf, d)
            k = min(q, m) - 1
            out[start : start + per] = np.partition(d, k, axis=1)[:, k]
        return out

    def radii(self, reach: float) -> np.ndarray:
        """Each account's radius under ``reach``: the reach, or farther for an account that
        is already farther from today's rep (it may go to a nearer one), or, with no
        territory today, as far as its :data:`NEAREST_ONES` nearest homes."""
        radius = np.full(self.n, float(reach))
        if not np.isfinite(reach):
            return radius
        has = np.flatnonzero(self.current >= 0)
        radius[has] = np.maximum(reach, self.dist(has, self.current[has]))
        new = np.flatnonzero(self.current < 0)
        if new.size:
            radius[new] = np.maximum(reach, self.nth_nearest(new, NEAREST_ONES))
        return radius * (1 + 1e-9)

    # ------------------------------------------------------------------ targets

    def total(self, which: int, own: float | None) -> float | None:
        """The workload (``which`` 0) or potential (1) total the territories' shares apply
        to: ``own``, the assignment's, or the fixed one from ``totals``."""
        totals = self.settings["totals"]
        fixed = None if totals is None else totals[which]
        return own if fixed is None else fixed

    def targets(self, hours: float, potential: float) -> tuple[np.ndarray, np.ndarray]:
        """Each territory's workload and potential targets when the assignment's totals are
        ``hours`` and ``potential``: its share of them, or of ``totals`` when fixed."""
        return self.share * self.total(0, hours), self.share * self.total(1, potential)

    # ------------------------------------------------------------------ arcs

    def dist(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Kilometres from accounts ``rows`` to the rep homes of territories ``cols``: the
        given ``distances``, or great circle times ``circuity`` (road against straight line)."""
        if self.distances is not None:
            return self.distances[rows, cols]
        # haversine_km with the radians and cosines worked out once (the same numbers)
        lat, lon, cos = self.radians
        h_lat, h_lon, h_cos = self.home_radians
        a = (
            np.sin((h_lat[cols] - lat[rows]) / 2) ** 2
            + cos[rows] * h_cos[cols] * np.sin((h_lon[cols] - lon[rows]) / 2) ** 2
        )
        great = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
        return great * self.settings["circuity"]

    def allowed(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Arcs a plan may use: to the account's current territory, or to a rep home within
        the account's radius (:meth:`radii`) and in its region (unless moves may cross
        regions)."""
        ok = np.ones(len(rows), bool)
        if np.isfinite(self.reach):
            ok = self.dist(rows, cols) <= self.radius[rows]
        if self.acc_region is not None:
            ar = self.acc_region[rows]
            ok &= (ar < 0) | (ar == self.ter_region[cols])
        return ok | (cols == self.current[rows])

    def nearest(self, q: int) -> tuple[np.ndarray, np.ndarray]:
        """Arcs from every account to its ``q`` nearest homes, nearest first."""
        q = min(q, self.m)
        if self.distances is not None:
            near = np.argsort(self.distances, axis=1)[:, :q]
        else:
            tree = cKDTree(unit_vectors(self.home_lat, self.home_lon))
            _, near = tree.query(unit_vectors(self.lat, self.lon), k=q)
            near = np.asarray(near).reshape(self.n, q)
        return np.repeat(np.arange(self.n), q), near.ravel()

    def typical_cost(self) -> float:
        """An account's weighted distance to its nearest rep home, on average: the unit
        of the cost of moving an account (and of leaving its neighbours' territory)."""
        rows, cols = self.nearest(1)
        return float((self.weight[rows] * self.dist(rows, cols)).mean()) or 1.0

    @property
    def distance_weight(self) -> np.ndarray:
        """Each account's weight on its distance in the objective: its weight in travel
        plus ``spread``, the same for every account (``compactness``)."""
        return self.weight + self.spread

    def arc_values(self, rows: np.ndarray, cols: np.ndarray) -> dict[str, np.ndarray]:
        """Distance, hours, travel, moved weight and cost of serving accounts ``rows`` from
        territories ``cols``."""
        s = self.settings
        d = self.dist(rows, cols)
        one_way = np.maximum(d / s["travel_speed_kmh"], s["min_travel_minutes"] / 60)
        hours = self.call_time[rows] + self.trips[rows] * one_way
        travel = self.weight[rows] * d
        cur = self.current[rows]
        moved = ((cols != cur) & (cur >= 0)).astype(float)
        cost = travel + self.spread * d + self.penalty[rows] * moved
        if self.anchor is not None:
            cost = cost + self.anchor_cost * (cols != self.anchor[rows])
        return {
            "distance": d,
            "hours": hours,
            "travel": travel,
            "moved": moved * self.move_weight[rows],
            "cost": cost,
        }

    def candidate_arcs(self, q: int) -> np.ndarray:
        """Keys (i * m + k) of the starting arcs: nearest homes plus the current territory;
        a locked account has only its current territory."""
        m = self.m
        rows, cols = self.nearest(q)
        keys = (rows * m + cols)[self.allowed(rows, cols)]
        # an account whose q nearest homes are all out of bounds (another region's, nearer
        # to it than any of its own) starts from its nearest allowed ones instead
        none = np.setdiff1d(np.arange(self.n), keys // m)
        if none.size:
            r, c = np.repeat(none, m), np.tile(np.arange(m), none.size)
            d = np.where(self.allowed(r, c), self.dist(r, c), np.inf).reshape(none.size, m)
            near = np.argsort(d, axis=1, kind="stable")[:, :q]
            ok = np.take_along_axis(d, near, axis=1) < np.inf
            keys = np.union1d(keys, (none[:, None] * m + near)[ok])
        has = np.flatnonzero(self.current >= 0)
        keys = np.union1d(keys, has * m + self.current[has])
        keys = keys[~self.locked[keys // m]]
        lk = np.flatnonzero(self.locked)
        return np.union1d(keys, lk * m + self.current[lk])

    def valid_arcs(self, keys: np.ndarray) -> np.ndarray:
        """Whether each arc (key i * m + k) is one this request may use: allowed
        (:meth:`allowed`), and to its current territory for a locked account."""
        m = self.m
        rows, cols = keys // m, keys % m
        ok = self.allowed(rows, cols)
        return ok & (~self.locked[rows] | (cols == self.current[rows]))

    def every_arc(self) -> np.ndarray:
        """Keys of every arc of the full problem: every territory within reach for a free
        account, the current one for a locked account."""
        n, m = self.n, self.m
        keys = np.arange(n * m)
        keys = keys[
            ~self.locked[keys // m] | (keys % m == np.repeat(np.maximum(self.current, 0), m)[keys])
        ]
        return keys[self.allowed(keys // m, keys % m)]

    def arc_count(self) -> int:
        """How many arcs :meth:`every_arc` has, without listing them."""
        free = np.flatnonzero(~self.locked)
        if not np.isfinite(self.reach) and self.acc_region is None:
            return int(len(free) * self.m + self.locked.sum())
        rows, cols = np.repeat(free, self.m), np.tile(np.arange(self.m), len(free))
        return int(self.allowed(rows, cols).sum() + self.locked.sum())

    def near_territories(self, k: int) -> np.ndarray:
        """Each territory's ``k`` nearest territories by rep home, itself first."""
        k = min(k, self.m)
        if self.distances is None:
            home = unit_vectors(self.home_lat, self.home_lon)
            _, near = cKDTree(home).query(home, k)
            return np.asarray(near).reshape(self.m, k)
        # no home positions: territories whose distances to accounts correlate most
        return np.argsort(-np.corrcoef(self.distances.T), axis=1)[:, :k]

    # ------------------------------------------------------------------ scoring

    def loads(self, assign: np.ndarray):
        """Each account's arc values under ``assign`` (see :meth:`arc_values`) and each
        territory's hours, potential and number of accounts."""
        m = self.m
        v = self.arc_values(np.arange(self.n), assign)
        hours = np.bincount(assign, weights=v["hours"], minlength=m)
        pot = np.bincount(assign, weights=self.potential, minlength=m)
        return v, hours, pot, np.bincount(assign, minlength=m).astype(float)

    def account_limits(self) -> np.ndarray | None:
        """Each territory's account limit (``inf`` for none), or None without limits."""
        lim = self.max_accounts
        return None if lim is None else np.where(np.isfinite(lim), lim, np.inf)

    def excess(self, hours, pot, count, h_t, p_t, lim=None, ter=None) -> np.ndarray:
        """Each territory's relative breach of its bands (0 inside them); ``lim`` are the
        account limits of the same territories, ``ter`` their positions (all by default)."""
        b = self.bands()
        if ter is not None:
            b = Bands(*(x[ter] for x in b))
        e = (
            np.maximum(hours - (1 + b.w_hi) * h_t, 0) + np.maximum((1 - b.w_lo) * h_t - hours, 0)
        ) / h_t
        e = e + (
            np.maximum(pot - (1 + b.p_hi) * p_t, 0) + np.maximum((1 - b.p_lo) * p_t - pot, 0)
        ) / np.maximum(p_t, 1e-12)
        if lim is not None:
            e = e + np.maximum(count - lim, 0) / np.maximum(lim, 1)
        return e

    def evaluate(self, assign: np.ndarray) -> dict[str, float]:
        """Objective, travel, moved weight and total band breach of an assignment given as
        territory positions (0..m-1) per account; ``breach`` is 0 when every band holds."""
        assign = np.asarray(assign, int)
        v, hours, pot, count = self.loads(assign)
        b = self.bands()
        h_t, p_t = self.targets(hours.sum(), pot.sum())
        breach = (
            np.maximum(hours - (1 + b.w_hi) * h_t, 0) + np.maximum((1 - b.w_lo) * h_t - hours, 0)
        ).sum() / h_t.mean() + (
            np.maximum(pot - (1 + b.p_hi) * p_t, 0) + np.maximum((1 - b.p_lo) * p_t - pot, 0)
        ).sum() / max(p_t.mean(), 1e-12)
        if self.max_accounts is not None:
            breach += np.maximum(count - self.max_accounts, 0).sum()
        moved = float(v["moved"].sum())
        breach += max(moved - self.cap, 0.0)
        locked_ok = (assign[self.locked] == self.current[self.locked]).all()
        breach += float((~self.allowed(np.arange(self.n), assign)).sum())
        return {
            "objective": float(v["cost"].sum()),
            "travel": float(v["travel"].sum()),
            "moved": float(moved),
            "breach": float(breach) + (0.0 if locked_ok else 1.0),
        }
