"""The territory problem: built once from the frames, then read by every step of the solver.

A :class:`TerritoryProblem` holds the accounts and rep homes as arrays, the balance bands, the
cost of every arc (account i served from territory k) on demand, and how any assignment scores
against the rules. It is frozen: a step that needs other bands asks for a copy
(:meth:`TerritoryProblem.with_bands`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

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
    "max_distance_km": None,
    "cap_by": "accounts",
    "visits_per_call": 0.2,
    "travel_speed_kmh": 70.0,
    "min_travel_minutes": 10.0,
    "candidates": 8,
    "distances": None,
    "travel_weight": "call_hours",
    "balance_potential": True,
    "totals": None,
}


@dataclass(frozen=True, eq=False)
class TerritoryProblem:
    """Accounts ``0..n-1`` and territories ``0..m-1`` as arrays, and the rules.

    Build it with :meth:`build`; the fields are what the steps read. ``current`` is each
    account's territory today (-1 for none), ``share`` each territory's share of the totals,
    ``weight`` each account's weight in travel, ``penalty`` the cost of moving it, ``cap`` the
    most moved weight allowed (``inf`` for no cap) and ``p_tol`` potential's band (1e6 when
    potential is not balanced).
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
    unreachable: np.ndarray
    penalty: np.ndarray
    move_weight: np.ndarray
    cap: float
    tolerance: float
    p_tol: float

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
        distances, max_distance_km = settings["distances"], settings["max_distance_km"]
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
        coords: dict = dict.fromkeys(
            ("lat", "lon", "home_lat", "home_lon", "radians", "home_radians")
        )
        if distances is None:
            coords = {
                "lat": acc["latitude"].to_numpy(float),
                "lon": acc["longitude"].to_numpy(float),
                "home_lat": ter["home_latitude"].to_numpy(float),
                "home_lon": ter["home_longitude"].to_numpy(float),
            }
            for key, la, lo in (
                ("radians", "lat", "lon"),
                ("home_radians", "home_lat", "home_lon"),
            ):
                lat, lon = np.radians(coords[la]), np.radians(coords[lo])
                coords[key] = (lat, lon, np.cos(lat))
        else:
            distances = np.asarray(distances, float)
        rev_weight = revenue / max(revenue.mean(), 1e-12)
        move_weight = rev_weight if settings["cap_by"] == "revenue" else np.ones(n)
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
            unreachable=np.zeros(n, bool),
            penalty=np.zeros(n),
            move_weight=move_weight,
            cap=(np.inf if max_moved_share is None else max_moved_share * move_weight.sum() + 1e-9),
            tolerance=float(tolerance),
            p_tol=(
                1e6
                if not balance_potential
                else float(tolerance if potential_tolerance is None else potential_tolerance)
            ),
        )
        near_rows, near_cols = problem.nearest(1)
        nearest = problem.dist(near_rows, near_cols)
        # an account with no territory today and no home within reach may go anywhere
        reach = np.inf if max_distance_km is None else max_distance_km
        scale = float((weight * nearest).mean()) or 1.0
        return dataclasses.replace(
            problem,
            unreachable=(current < 0) & (nearest > reach),
            penalty=float(disruption) * scale * rev_weight,
        )

    def with_bands(self, tolerance: float, p_tol: float) -> TerritoryProblem:
        """The same problem with other workload and potential bands."""
        return dataclasses.replace(self, tolerance=float(tolerance), p_tol=float(p_tol))

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
        """Kilometres from accounts ``rows`` to the rep homes of territories ``cols``."""
        if self.distances is not None:
            return self.distances[rows, cols]
        # haversine_km with the radians and cosines worked out once (the same numbers)
        lat, lon, cos = self.radians
        h_lat, h_lon, h_cos = self.home_radians
        a = (
            np.sin((h_lat[cols] - lat[rows]) / 2) ** 2
            + cos[rows] * h_cos[cols] * np.sin((h_lon[cols] - lon[rows]) / 2) ** 2
        )
        return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))

    def allowed(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Arcs within ``max_distance_km`` of the rep home, to the current territory, or from
        an account with no territory today and no home within reach."""
        limit = self.settings["max_distance_km"]
        if limit is None:
            return np.ones(len(rows), bool)
        return (
            (cols == self.current[rows]) | self.unreachable[rows] | (self.dist(rows, cols) <= limit)
        )

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
        return {
            "distance": d,
            "hours": hours,
            "travel": travel,
            "moved": moved * self.move_weight[rows],
            "cost": travel + self.penalty[rows] * moved,
        }

    def candidate_arcs(self, q: int) -> np.ndarray:
        """Keys (i * m + k) of the starting arcs: nearest homes plus the current territory;
        a locked account has only its current territory."""
        m = self.m
        rows, cols = self.nearest(q)
        keys = (rows * m + cols)[self.allowed(rows, cols)]
        has = np.flatnonzero(self.current >= 0)
        keys = np.union1d(keys, has * m + self.current[has])
        keys = keys[~self.locked[keys // m]]
        lk = np.flatnonzero(self.locked)
        return np.union1d(keys, lk * m + self.current[lk])

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
        if self.settings["max_distance_km"] is None:
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

    def excess(self, hours, pot, count, h_t, p_t, lim=None) -> np.ndarray:
        """Each territory's relative breach of its bands (0 inside them); ``lim`` are the
        account limits of the same territories."""
        tol, p_tol = self.tolerance, self.p_tol
        e = (np.maximum(hours - (1 + tol) * h_t, 0) + np.maximum((1 - tol) * h_t - hours, 0)) / h_t
        e = e + (
            np.maximum(pot - (1 + p_tol) * p_t, 0) + np.maximum((1 - p_tol) * p_t - pot, 0)
        ) / np.maximum(p_t, 1e-12)
        if lim is not None:
            e = e + np.maximum(count - lim, 0) / np.maximum(lim, 1)
        return e

    def evaluate(self, assign: np.ndarray) -> dict[str, float]:
        """Objective, travel, moved weight and total band breach of an assignment given as
        territory positions (0..m-1) per account; ``breach`` is 0 when every band holds."""
        assign = np.asarray(assign, int)
        v, hours, pot, count = self.loads(assign)
        tol, p_tol = self.tolerance, self.p_tol
        h_t, p_t = self.targets(hours.sum(), pot.sum())
        breach = (
            np.maximum(hours - (1 + tol) * h_t, 0) + np.maximum((1 - tol) * h_t - hours, 0)
        ).sum() / h_t.mean() + (
            np.maximum(pot - (1 + p_tol) * p_t, 0) + np.maximum((1 - p_tol) * p_t - pot, 0)
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
