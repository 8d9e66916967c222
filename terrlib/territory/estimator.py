"""The territory optimizer: a balanced, compact, low-disruption assignment of accounts to reps,
with a certified lower bound so every proposal carries its optimality gap.

Model (DESIGN §5). Accounts i, territories k with a rep home. ``x_ik`` = 1 when account i goes
to territory k.

* every account assigned once; locked accounts stay where they are;
* workload: ``sum_i h_ik x_ik`` within ±tolerance of territory k's share of the total, where
  ``h_ik`` is the account's hours a year if served from k's home (call time plus travel), so a
  target follows the rep's capacity (a part-time rep gets half);
* potential: ``sum_i p_i x_ik`` within ±tolerance of k's share of total potential;
* optionally at most ``max_accounts`` accounts in a territory, at most
  ``max_moved_share`` of the accounts (or of the revenue) changing territory, and no account
  moved to a rep home farther than ``max_distance_km``;
* minimise ``sum_i w_i d_ik x_ik`` (call hours x distance: travel) plus ``disruption`` x the
  account's revenue weight for every account moved away from its current territory.

Method. Arcs are sparse: each account is offered its nearest homes (a KD-tree, never an
accounts x territories matrix) and its current territory; on large plans (200,000
accounts x territories or more) where an account's hours do not depend on who serves it (no
travel in workload), the arcs come instead from an approximate Lagrangian dual,
climbed by Newton steps on a smoothed dual, which leaves most accounts a single arc (on the
benchmark's first plan of 20,000 x 100 the whole solve went from 71 s to 24 s). The LP
relaxation on those arcs is solved with HiGHS; the reduced cost of every arc left out is
priced with the LP duals, in chunks, and the most negative ones are added until none is
left, so the LP value is a valid lower bound for the full problem (while pricing is
unfinished, the Lagrangian bound ``LP + sum_i min(0, min_k reduced cost)`` is used, which is
valid too). A vertex of this LP splits at most as many accounts as there are balance rows, so
the LP is almost an assignment.
The integer solution comes from a small MILP (HiGHS) in which every account the LP leaves whole
and whose alternatives have large reduced costs is fixed, and the split accounts and those with
cheap alternatives are free; the neighbourhood is widened until the MILP is feasible. On small
instances the neighbourhood is everything and the MILP's own bound is used too.
``gap_`` = (objective - bound) / objective.

Examples
--------
>>> import pandas as pd
>>> acc = pd.DataFrame({"account_id": list("abcd"), "latitude": [40.0, 40.1, 41.0, 41.1],
...                     "longitude": [-75.0] * 4, "call_hours": [10.0] * 4,
...                     "potential": [1.0] * 4, "territory_id": ["T1", "T1", "T1", "T2"]})
>>> homes = pd.DataFrame({"territory_id": ["T1", "T2"], "home_latitude": [40.0, 41.0],
...                       "home_longitude": [-75.0, -75.0], "capacity": [1.0, 1.0]})
>>> opt = TerritoryOptimizer(acc, homes, tolerance=0.05, travel_speed_kmh=1e9).solve()
>>> opt.assignment_.tolist()
['T1', 'T1', 'T2', 'T2']
>>> round(opt.gap_, 6)
0.0
"""

from __future__ import annotations

import copy
import os
import sys
import time
from dataclasses import dataclass

import highspy
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.linalg import cho_factor, cho_solve
from scipy.spatial import cKDTree

from terrlib.exports import write_excel
from terrlib.geo import EARTH_RADIUS_KM
from terrlib.results import Result

_INF = highspy.kHighsInf


def _quiet_banner() -> None:
    """HiGHS prints a banner from C++ when the first solver object is made; make that one
    with the process's stdout pointed at /dev/null so it stays out of reports."""
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(null)
        os.close(saved)


_quiet_banner()
_SMALL = 50_000  # accounts x territories at or below which the diagnosis solves MILPs
# accounts x territories at or below which solve() hands every account to one MILP by
# default: small enough for HiGHS to finish it well inside the time limit, so that the
# limit, and so the machine's speed, does not decide the proposal
_EXACT = 5_000
# branch-and-bound nodes of the MILP that polishes a rounded proposal: a cap on work, not on
# seconds, so the same request gives the same proposal on any machine (time limits are only
# a safety net there)
_POLISH_NODES = 20
# accounts x territories from which solve() starts the LP from the arcs an approximate
# Lagrangian dual picks (see TerritoryOptimizer._dual_start), not from each account's nearest
# homes: there HiGHS spends most of its time on arcs the optimum does not use. On generated
# plans it was faster with gaps as good or better from 5,000 x 50 up (2-4 s against 14-42 s),
# while at 2,000 x 20 the MILP around the rounding, which that path skips, still paid. Only
# when workload excludes travel: with travel in workload (20,000 x 100) the dual's arcs made
# the LP slower (over 900 s against 543 s for the whole solve), so that case keeps the usual
# start
_DUAL = 200_000


# accounts x territories from which solve() works region by region (terrlib.territory.regions) when
# it can: the LP over every account needs far more than two minutes at 200,000 x 500
# (100M), where the regions take 94 s; at 20,000 x 100 (2M) the LP's plans cost 8-12% less
# in about the same time. Sizes in between were not measured.
_REGIONS = 20_000_000


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


@dataclass
class _Model:
    """A (mixed-integer) linear model in HiGHS column form, and what its columns mean."""

    rows: np.ndarray  # account of each arc column
    cols: np.ndarray  # territory of each arc column
    highs: highspy.Highs
    layout: dict  # row numbers (see TerritoryOptimizer._layout)
    base: int  # columns before the first arc: H, then the elastic slacks


class TerritoryOptimizer:
    """Balanced, compact, low-disruption assignment of accounts to territories.

    Parameters
    ----------
    accounts : DataFrame
        ``account_id``, ``latitude``, ``longitude``, ``calls`` (a year), ``call_hours`` (call
        time a year, without travel), ``potential`` and ``territory_id`` (current); optional
        ``revenue`` (weight of moving it, default 1) and ``locked`` (bool).
    territories : DataFrame
        ``territory_id``, ``home_latitude``, ``home_longitude`` and ``capacity`` (relative
        size: targets are shares of the totals in proportion to it); optional
        ``max_accounts``.
    tolerance : float
        Allowed deviation of each territory's workload from its target, ±.
    potential_tolerance : float, optional
        The same for potential (default: ``tolerance``).
    disruption : float
        Cost of moving an account, in units of the average account's travel cost to its
        nearest home, scaled by its revenue weight.
    max_moved_share : float, optional
        At most this share of accounts (or of revenue, see ``cap_by``) may change territory.
    max_distance_km : float, optional
        An account may go only to a territory whose rep home is at most this far from it
        (its current territory is always allowed), so no rep is handed an account on the
        other side of the country to even out the numbers.
    cap_by : {"accounts", "revenue"}
        What ``max_moved_share`` counts.
    visits_per_call, travel_speed_kmh, min_travel_minutes : float
        The coverage model's travel: share of calls made in person, speed and a floor per trip.
    candidates : int
        Nearest homes offered to each account before pricing adds any other arc.
    distances : array, optional
        Distances (accounts x territories, km) to use instead of great-circle distances.
    travel_weight : {"call_hours", "none"}
        Weight of each account's distance in the travel objective.
    balance_potential : bool
        Also keep potential within its tolerance (default True).
    time_limit : float
        Seconds allowed to each MILP solve. The MILPs that polish a proposal stop on counts
        of nodes and solves instead, so the same request gives the same proposal on any
        machine; for them this is only a safety net, set well above what they take on a
        busy machine (the report runs two notebooks at once).
    totals : (float or None, float or None), optional
        Total workload hours and potential that the territories' shares apply to, instead
        of the assignment's own totals (None keeps those): fixed targets, for a region of a
        larger plan.
    """

    def __init__(
        self,
        accounts: pd.DataFrame,
        territories: pd.DataFrame,
        tolerance: float = 0.10,
        potential_tolerance: float | None = None,
        disruption: float = 1.0,
        max_moved_share: float | None = None,
        max_distance_km: float | None = None,
        cap_by: str = "accounts",
        visits_per_call: float = 0.2,
        travel_speed_kmh: float = 70.0,
        min_travel_minutes: float = 10.0,
        candidates: int = 8,
        distances: np.ndarray | None = None,
        travel_weight: str = "call_hours",
        balance_potential: bool = True,
        time_limit: float = 30.0,
        totals: tuple[float | None, float | None] | None = None,
    ):
        self.accounts = accounts.reset_index(drop=True)
        self.territories = territories.reset_index(drop=True)
        self.tolerance = float(tolerance)
        self.potential_tolerance = potential_tolerance
        self.disruption = float(disruption)
        self.max_moved_share = max_moved_share
        self.max_distance_km = max_distance_km
        self.cap_by = cap_by
        self.visits_per_call = visits_per_call
        self.travel_speed_kmh = travel_speed_kmh
        self.min_travel_minutes = min_travel_minutes
        self.candidates = candidates
        self.distances = distances
        self.travel_weight = travel_weight
        self.balance_potential = balance_potential
        self.time_limit = float(time_limit)
        self.totals = totals

    # ------------------------------------------------------------------ data

    def _prepare(self) -> None:
        acc, ter = self.accounts, self.territories
        self.__dict__.pop("scales_", None)
        self.n_, self.m_ = len(acc), len(ter)
        self.ids_ = ter["territory_id"].astype(str).to_numpy()
        index = {t: k for k, t in enumerate(self.ids_)}
        self.current_ = acc["territory_id"].astype(str).map(index).fillna(-1).astype(int).to_numpy()
        self.call_time_ = acc["call_hours"].to_numpy(float)
        calls = acc["calls"].to_numpy(float) if "calls" in acc else self.call_time_
        self.trips_ = 2 * calls * self.visits_per_call  # one-way legs a year
        self.potential_ = acc["potential"].to_numpy(float)
        share = ter["capacity"].to_numpy(float)
        self.share_ = share / share.sum()
        revenue = acc["revenue"].to_numpy(float) if "revenue" in acc else np.ones(self.n_)
        self.revenue_ = revenue
        self.weight_ = self.call_time_ if self.travel_weight == "call_hours" else np.ones(self.n_)
        self.locked_ = (
            acc["locked"].to_numpy(bool) if "locked" in acc else np.zeros(self.n_, bool)
        ) & (self.current_ >= 0)
        self.max_accounts_ = ter["max_accounts"].to_numpy(float) if "max_accounts" in ter else None
        if self.distances is None:
            self.home_lat_ = ter["home_latitude"].to_numpy(float)
            self.home_lon_ = ter["home_longitude"].to_numpy(float)
            self.lat_ = acc["latitude"].to_numpy(float)
            self.lon_ = acc["longitude"].to_numpy(float)
            lat, lon = np.radians(self.lat_), np.radians(self.lon_)
            self.radians_ = (lat, lon, np.cos(lat))
            lat, lon = np.radians(self.home_lat_), np.radians(self.home_lon_)
            self.home_radians_ = (lat, lon, np.cos(lat))
        else:
            self.distances = np.asarray(self.distances, float)
        near_rows, near_cols = self._nearest(1)
        nearest = self._dist(near_rows, near_cols)
        # an account with no territory today and no home within reach may go anywhere
        self.unreachable_ = (self.current_ < 0) & (
            nearest > (np.inf if self.max_distance_km is None else self.max_distance_km)
        )
        scale = float((self.weight_ * nearest).mean()) or 1.0
        rev_weight = revenue / max(revenue.mean(), 1e-12)
        self.penalty_ = self.disruption * scale * rev_weight
        self.move_weight_ = rev_weight if self.cap_by == "revenue" else np.ones(self.n_)
        self.cap_ = (
            np.inf
            if self.max_moved_share is None
            else self.max_moved_share * self.move_weight_.sum() + 1e-9
        )
        self.p_tol_ = (
            1e6
            if not self.balance_potential
            else float(
                self.tolerance if self.potential_tolerance is None else self.potential_tolerance
            )
        )

    def _total(self, which: int, own: float) -> float:
        """The workload (``which`` 0) or potential (1) total the territories' shares apply
        to: ``own``, the assignment's, or the fixed one from ``totals``."""
        fixed = None if self.totals is None else self.totals[which]
        return own if fixed is None else fixed

    def _targets(self, hours: float, potential: float) -> tuple[np.ndarray, np.ndarray]:
        """Each territory's workload and potential targets when the assignment's totals are
        ``hours`` and ``potential``: its share of them, or of ``totals`` when fixed."""
        return self.share_ * self._total(0, hours), self.share_ * self._total(1, potential)

    def _dist(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        if self.distances is not None:
            return self.distances[rows, cols]
        # haversine_km with the radians and cosines worked out once (the same numbers)
        lat, lon, cos = self.radians_
        h_lat, h_lon, h_cos = self.home_radians_
        a = (
            np.sin((h_lat[cols] - lat[rows]) / 2) ** 2
            + cos[rows] * h_cos[cols] * np.sin((h_lon[cols] - lon[rows]) / 2) ** 2
        )
        return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))

    def _allowed(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Arcs within ``max_distance_km`` of the rep home, to the current territory, or from
        an account with no territory today and no home within reach."""
        if self.max_distance_km is None:
            return np.ones(len(rows), bool)
        return (
            (cols == self.current_[rows])
            | self.unreachable_[rows]
            | (self._dist(rows, cols) <= self.max_distance_km)
        )

    def _nearest(self, q: int) -> tuple[np.ndarray, np.ndarray]:
        """Arcs from every account to its ``q`` nearest homes."""
        q = min(q, self.m_)
        if self.distances is not None:
            near = np.argsort(self.distances, axis=1)[:, :q]
        else:
            tree = cKDTree(unit_vectors(self.home_lat_, self.home_lon_))
            _, near = tree.query(unit_vectors(self.lat_, self.lon_), k=q)
            near = np.asarray(near).reshape(self.n_, q)
        return np.repeat(np.arange(self.n_), q), near.ravel()

    def arc_values(self, rows: np.ndarray, cols: np.ndarray) -> dict[str, np.ndarray]:
        """Distance, hours, travel, moved weight and cost of serving accounts ``rows`` from
        territories ``cols``."""
        d = self._dist(rows, cols)
        one_way = np.maximum(d / self.travel_speed_kmh, self.min_travel_minutes / 60)
        hours = self.call_time_[rows] + self.trips_[rows] * one_way
        travel = self.weight_[rows] * d
        cur = self.current_[rows]
        moved = ((cols != cur) & (cur >= 0)).astype(float)
        return {
            "distance": d,
            "hours": hours,
            "travel": travel,
            "moved": moved * self.move_weight_[rows],
            "cost": travel + self.penalty_[rows] * moved,
        }

    def _candidate_arcs(self, q: int) -> np.ndarray:
        """Keys (i * m + k) of the starting arcs: nearest homes plus the current territory;
        a locked account has only its current territory."""
        rows, cols = self._nearest(q)
        keys = (rows * self.m_ + cols)[self._allowed(rows, cols)]
        has = np.flatnonzero(self.current_ >= 0)
        keys = np.union1d(keys, has * self.m_ + self.current_[has])
        locked = self.locked_[keys // self.m_]
        keys = keys[~locked]
        lk = np.flatnonzero(self.locked_)
        return np.union1d(keys, lk * self.m_ + self.current_[lk])

    # ------------------------------------------------------------------ models

    def _layout(self, free_acc: np.ndarray) -> dict:
        """Row numbers of the model over the free accounts ``free_acc``."""
        n, m = self.n_, self.m_
        row_of = np.full(n, -1)
        row_of[free_acc] = np.arange(len(free_acc))
        nf = len(free_acc)
        lay = {"row_of": row_of, "nf": nf, "h": nf, "up": nf + 1, "lo": nf + 1 + m}
        lay["pot"] = lay["lo"] + m
        lay["cnt"] = lay["pot"] + m
        lay["cap"] = lay["cnt"] + (m if self.max_accounts_ is not None else 0)
        lay["rows"] = lay["cap"] + (1 if np.isfinite(self.cap_) else 0)
        return lay

    def _arc_columns(self, rows: np.ndarray, cols: np.ndarray, lay: dict):
        """Costs and CSC pieces (starts, indices, values) of the arc columns."""
        v = self.arc_values(rows, cols)
        sh, sp, sc = self.scales_
        h = v["hours"] / sh
        ri = [
            lay["row_of"][rows],
            np.full(len(rows), lay["h"]),
            lay["up"] + cols,
            lay["lo"] + cols,
            lay["pot"] + cols,
        ]
        vals = [np.ones(len(rows)), h, h, h, self.potential_[rows] / sp]
        if self.max_accounts_ is not None:
            ri.append(lay["cnt"] + cols)
            vals.append(np.ones(len(rows)))
        if np.isfinite(self.cap_):
            ri.append(np.full(len(rows), lay["cap"]))
            vals.append(v["moved"])
        per = len(ri)
        starts = np.arange(len(rows)) * per
        return v["cost"] / sc, starts, np.stack(ri, 1).ravel(), np.stack(vals, 1).ravel()

    def _build(
        self,
        keys: np.ndarray,
        tol: float,
        integer: bool = False,
        fixed: np.ndarray | None = None,
        elastic: bool = False,
    ) -> _Model:
        """The LP (or MILP) over arcs ``keys``. Accounts with ``fixed[i] >= 0`` are fixed to
        that territory and enter as constants; the rest are free over their arcs. Columns:
        the total hours H, then (``elastic``) penalised slacks on every balance row, then the
        arcs. With slacks the LP is always feasible and its duals price the arcs a feasible
        solution needs."""
        n, m = self.n_, self.m_
        rows, cols = keys // m, keys % m
        sh, sp, sc = self.scales_
        const_h, const_p, const_n = np.zeros(m), np.zeros(m), np.zeros(m)
        const_mv = const_c = 0.0
        if fixed is not None:
            fix = np.flatnonzero(fixed >= 0)
            fv = self.arc_values(fix, fixed[fix])
            const_h = np.bincount(fixed[fix], weights=fv["hours"] / sh, minlength=m)
            const_p = np.bincount(fixed[fix], weights=self.potential_[fix] / sp, minlength=m)
            const_n = np.bincount(fixed[fix], minlength=m).astype(float)
            const_mv = float(fv["moved"].sum())
            const_c = float(fv["cost"].sum() / sc)
            free_acc = np.flatnonzero(fixed < 0)
        else:
            free_acc = np.arange(n)
        lay = self._layout(free_acc)
        s, t_p = self.share_, self.p_tol_
        total_p = self._total(1, self.potential_.sum()) / sp
        # base columns: H, then slacks
        b_rows = [np.r_[lay["h"], lay["up"] + np.arange(m), lay["lo"] + np.arange(m)]]
        b_vals = [np.r_[-1.0, -(1 + tol) * s, -(1 - tol) * s]]
        if elastic:
            side = np.arange(lay["h"] + 1, lay["rows"])
            b_rows += [[r] for r in side] + [[r] for r in side]
            b_vals += [[-1.0]] * len(side) + [[1.0]] * len(side)
        n_base = len(b_rows)
        base_cost = np.r_[0.0, np.full(n_base - 1, self.penalty_cost_)]
        b_start = np.cumsum([0] + [len(r) for r in b_rows])[:-1]
        cost, starts, idx, vals = self._arc_columns(rows, cols, lay)
        lower = np.full(lay["rows"], -_INF)
        upper = np.full(lay["rows"], _INF)
        nf = lay["nf"]
        lower[:nf] = upper[:nf] = 1.0
        lower[lay["h"]] = upper[lay["h"]] = -const_h.sum()
        h_col = (0.0, _INF)
        fixed_h = self._total(0, None)
        if fixed_h is not None:
            # fixed targets: H is a constant, the total is free
            lower[lay["h"]], upper[lay["h"]] = -_INF, _INF
            h_col = (fixed_h / sh,) * 2
        upper[lay["up"] : lay["up"] + m] = -const_h
        lower[lay["lo"] : lay["lo"] + m] = -const_h
        lower[lay["pot"] : lay["pot"] + m] = (1 - t_p) * s * total_p - const_p
        upper[lay["pot"] : lay["pot"] + m] = (1 + t_p) * s * total_p - const_p
        if self.max_accounts_ is not None:
            lim = self.max_accounts_
            upper[lay["cnt"] : lay["cnt"] + m] = np.where(np.isfinite(lim), lim, _INF) - const_n
        if np.isfinite(self.cap_):
            upper[lay["cap"]] = self.cap_ - const_mv
        n_base_nz = int(sum(len(r) for r in b_rows))
        lp = highspy.HighsLp()
        lp.num_col_ = n_base + len(rows)
        lp.num_row_ = lay["rows"]
        lp.col_cost_ = np.r_[base_cost, cost]
        lp.col_lower_ = np.r_[h_col[0], np.zeros(lp.num_col_ - 1)]
        lp.col_upper_ = np.r_[h_col[1], np.full(n_base - 1, _INF), np.ones(len(rows))]
        lp.row_lower_ = lower
        lp.row_upper_ = upper
        lp.offset_ = const_c
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.r_[b_start, starts + n_base_nz, len(idx) + n_base_nz]
        lp.a_matrix_.index_ = np.r_[np.concatenate(b_rows), idx].astype(np.int32)
        lp.a_matrix_.value_ = np.r_[np.concatenate(b_vals), vals]
        lp.a_matrix_.num_col_ = lp.num_col_
        lp.a_matrix_.num_row_ = lay["rows"]
        if integer:
            lp.integrality_ = [highspy.HighsVarType.kContinuous] * n_base + [
                highspy.HighsVarType.kInteger
            ] * len(rows)
        hs = highspy.Highs()
        hs.setOptionValue("output_flag", False)
        hs.setOptionValue("random_seed", 0)
        hs.setOptionValue("threads", 1)
        hs.passModel(lp)
        model = _Model(rows, cols, hs, lay, n_base)
        return model

    def _add_arcs(self, model: _Model, keys: np.ndarray) -> None:
        """Append arc columns to a model; HiGHS then restarts from its last basis."""
        rows, cols = keys // self.m_, keys % self.m_
        cost, starts, idx, vals = self._arc_columns(rows, cols, model.layout)
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

    def _set_scales(self, keys: np.ndarray) -> None:
        v = self.arc_values(keys // self.m_, keys % self.m_)
        self.scales_ = (
            float(v["hours"].mean()) or 1.0,
            float(self.potential_.mean()) or 1.0,
            float(v["cost"].mean()) or 1.0,
        )
        # a unit of slack (an average account's hours or potential) costs this many
        # average arcs: far more than any assignment could save
        self.penalty_cost_ = 1e3 * max(1.0, float(v["cost"].max() / self.scales_[2]))

    def _reduced_costs(self, model: _Model, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Reduced costs (scaled) of arbitrary arcs under the model's duals."""
        lay = model.layout
        y = np.asarray(model.highs.getSolution().row_dual)
        sh, sp, sc = self.scales_
        v = self.arc_values(rows, cols)
        red = (
            v["cost"] / sc
            - y[lay["row_of"][rows]]
            - v["hours"] / sh * (y[lay["h"]] + y[lay["up"] + cols] + y[lay["lo"] + cols])
            - self.potential_[rows] / sp * y[lay["pot"] + cols]
        )
        if self.max_accounts_ is not None:
            red -= y[lay["cnt"] + cols]
        if np.isfinite(self.cap_):
            red -= v["moved"] * y[lay["cap"]]
        return red

    def _price(self, model: _Model, keys: np.ndarray, chunk: int = 2_000_000):
        """Every arc left out priced in chunks: (each account's most negative arc, the
        Lagrangian correction sum_i min(0, min_k reduced cost))."""
        m = self.m_
        free = np.flatnonzero(~self.locked_)
        per = max(1, chunk // m)
        found, correction = [], 0.0
        for start in range(0, len(free), per):
            acc = free[start : start + per]
            rows = np.repeat(acc, m)
            cols = np.tile(np.arange(m), len(acc))
            ck = rows * m + cols
            pos = np.minimum(np.searchsorted(keys, ck), len(keys) - 1)
            red = self._reduced_costs(model, rows, cols)
            red[(keys[pos] == ck) | ~self._allowed(rows, cols)] = np.inf
            red2 = red.reshape(len(acc), m)
            best = red2.argmin(axis=1)
            low = red2[np.arange(len(acc)), best]
            correction += float(np.minimum(low, 0).sum())
            found.append((acc * m + best)[low < -1e-9])
        new = np.concatenate(found) if found else np.zeros(0, int)
        return new, correction

    def _dual_start(self, tol: float) -> tuple[np.ndarray, np.ndarray]:
        """Arcs to start a large LP from, picked by an approximate Lagrangian dual.

        The balance rows are priced into the arcs: account i's reduced cost on territory k is
        ``c_ik + u_k h_ik + v_k p_i``, and the dual ``sum_i min_k (...)`` minus the bands'
        terms is maximised over the multipliers ``u, v``. With the minimum smoothed to a
        soft minimum of temperature ``eps`` (a share of the average arc's cost) the dual is
        smooth and concave, so damped Newton steps (``2m`` unknowns) climb it; ``eps`` is
        lowered in stages (0.1, 0.03, 0.01). The arcs start as every account's 8 nearest homes
        and each territory's nearest accounts (three times its share); after each climb every
        account gets its cheapest arc among all when that beats the ones it has, and the
        climb resumes (the multipliers are kept within a box, so a start that cannot balance
        stays bounded).
        The workload total is estimated from the soft assignment; the caps on moves and on
        accounts per territory are left to the LP.

        Returns
        -------
        lp_arcs, repair_arcs : ndarray
            Keys ``i * m + k``: the arcs within 0.02 of each account's cheapest under the
            multipliers, its current territory and the locked accounts' arcs (the LP's start:
            most accounts have a single arc, which HiGHS's presolve removes), and those
            within 1.0 (for the single-move repair of the rounding). The LP's column
            generation still prices every arc, so its bound does not depend on this choice.
        """
        n, m = self.n_, self.m_
        free = np.flatnonzero(~self.locked_)
        if not len(free):
            return self._candidate_arcs(self.candidates), np.zeros(0, int)
        rows, cols = self._nearest(8)
        keys = [(rows * m + cols)[~self.locked_[rows]]]
        q = min(len(free), int(np.ceil(3 * len(free) / m)))
        if self.distances is None:
            tree = cKDTree(unit_vectors(self.lat_[free], self.lon_[free]))
            _, near = tree.query(unit_vectors(self.home_lat_, self.home_lon_), k=q)
            near = free[np.asarray(near).reshape(m, q)]
        else:
            near = free[np.argpartition(self.distances[free], q - 1, axis=0)[:q]].T
        keys.append(near.ravel() * m + np.repeat(np.arange(m), q))
        has = free[self.current_[free] >= 0]
        keys.append(has * m + self.current_[has])
        keys = np.unique(np.concatenate(keys))
        keys = keys[self._allowed(keys // m, keys % m)]
        lk = np.flatnonzero(self.locked_)
        lv = self.arc_values(lk, self.current_[lk])
        start = self.arc_values(keys // m, keys % m)
        cs, hs = float(start["cost"].mean()) or 1.0, float(start["hours"].mean()) or 1.0
        ps = float(self.potential_.mean()) or 1.0
        locked_h = np.bincount(self.current_[lk], lv["hours"], m) / hs
        locked_p = np.bincount(self.current_[lk], self.potential_[lk], m) / ps
        pot = self.potential_ / ps
        s, t_p = self.share_, self.p_tol_
        balance_p = t_p < 1e5
        p_up = (1 + t_p) * s * pot.sum() - locked_p
        p_lo = (1 - t_p) * s * pot.sum() - locked_p
        box, kappa = 30.0, float(n)  # |multiplier| beyond box costs kappa * excess^2

        def arcs(keys, v=None):
            r, c = keys // m, keys % m
            v = self.arc_values(r, c) if v is None else v
            starts = np.r_[0, np.flatnonzero(np.diff(r)) + 1]
            seg = np.cumsum(np.r_[0, np.diff(r) != 0])  # each arc's account among those
            return r, c, starts, seg, v["cost"] / cs, v["hours"] / hs, pot[r]

        def soft(x, up, lo, eps):
            # eps-smoothed max(x * up, x * lo): the bands' term; its slope and curvature
            a0, a1 = x * up / eps, x * lo / eps
            top = np.maximum(a0, a1)
            e0, e1 = np.exp(a0 - top), np.exp(a1 - top)
            sg = e0 / (e0 + e1)
            return (
                eps * (top + np.log(e0 + e1)),
                sg * up + (1 - sg) * lo,
                ((up - lo) ** 2 * sg * (1 - sg) / eps),
            )

        def parts(z):  # workload and potential multipliers
            return z[:m], z[m:] if balance_p else np.zeros(m)

        def dual(z, eps, h_up, h_lo, hess=False):
            u, w = parts(z)
            red = c_a + u[c_c] * h_a + w[c_c] * p_a
            low = np.minimum.reduceat(red, starts)
            e = np.exp(-(red - low[seg]) / eps)
            tot = np.add.reduceat(e, starts)
            over = np.maximum(np.abs(z) - box, 0)
            vu, du, cu = soft(u, h_up, h_lo, eps)
            f = float((low - eps * np.log(tot)).sum() - vu.sum() - kappa * (over**2).sum())
            if balance_p:
                vw, dw, cw = soft(w, p_up, p_lo, eps)
                f -= float(vw.sum())
            if not hess:
                return f
            pi = e / tot[seg]
            ph, pp = pi * h_a, pi * p_a
            g = [np.bincount(c_c, ph, m) - du]
            diag = [np.bincount(c_c, ph * h_a, m) + eps * cu]
            cols_q, vals_q = [c_c], [ph]
            if balance_p:
                g.append(np.bincount(c_c, pp, m) - dw)
                diag.append(np.bincount(c_c, pp * p_a, m) + eps * cw)
                cols_q.append(m + c_c)
                vals_q.append(pp)
            k = len(z)
            curv = np.diag(np.concatenate(diag))
            if balance_p:
                cross = np.bincount(c_c, ph * p_a, m)
                curv[np.arange(m), m + np.arange(m)] = cross
                curv[m + np.arange(m), np.arange(m)] = cross
            keep = pi > 1e-6  # the rest adds nothing to the curvature at this precision
            q_mat = sparse.csr_matrix(
                (
                    np.concatenate(vals_q)[np.tile(keep, len(vals_q))],
                    (
                        np.tile(r_a, len(vals_q))[np.tile(keep, len(vals_q))],
                        np.concatenate(cols_q)[np.tile(keep, len(vals_q))],
                    ),
                ),
                shape=(n, k),
            )
            curv = (curv - (q_mat.T @ q_mat).toarray()) / eps
            curv[np.diag_indices(k)] += 2 * kappa * (over > 0)
            grad = np.concatenate(g) - 2 * kappa * np.sign(z) * over
            return f, grad, curv, float(ph.sum())

        # every arc of the free accounts, priced in chunks (their values kept when small)
        per = max(1, 2_000_000 // m)
        cache: dict[int, tuple] = {}

        def chunk(a: int):
            if a in cache:
                return cache[a]
            acc = free[a : a + per]
            r, c = np.repeat(acc, m), np.tile(np.arange(m), len(acc))
            v = self.arc_values(r, c)
            cost = np.where(self._allowed(r, c), v["cost"] / cs, np.inf)
            out = (acc, r, c, cost, v["hours"] / hs)
            if n * m <= 4_000_000:
                cache[a] = out
            return out

        def reduced(z, a):
            acc, r, c, cost, hours = chunk(a)
            u, w = parts(z)
            return acc, (cost + u[c] * hours + w[c] * pot[r]).reshape(len(acc), m)

        r_a, c_c, starts, seg, c_a, h_a, p_a = arcs(keys, start)
        z = np.zeros(2 * m if balance_p else m)
        nearest = cols.reshape(n, -1)[:, 0]  # _nearest lists each account's homes nearest first
        total_h = float(self.arc_values(np.arange(n), nearest)["hours"].sum() / hs)
        damp = 1e-4
        for eps in (0.1, 0.03, 0.01):
            for _ in range(4):  # rounds of pricing
                for _ in range(30):  # damped Newton steps
                    h_up = (1 + tol) * s * total_h - locked_h
                    h_lo = (1 - tol) * s * total_h - locked_h
                    f, g, curv, soft_h = dual(z, eps, h_up, h_lo, hess=True)
                    total_h = float(locked_h.sum() + soft_h)
                    if np.abs(g[:m]).max() < 0.01 * tol * (s * total_h).min() and (
                        not balance_p or np.abs(g[m:]).max() < 0.01 * t_p * (s * pot.sum()).min()
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
                            if dual(z + step * d, eps, h_up, h_lo) >= f + 1e-4 * step * (g @ d):
                                z, moved = z + step * d, True
                                damp = max(damp / 3, 1e-8) if step == 1.0 else damp
                                break
                            step /= 2
                        if not moved:
                            damp *= 10
                    if not moved:
                        damp = 1e-4
                        break
                u, w = parts(z)
                low = np.full(n, np.inf)  # each account's cheapest arc so far
                low[r_a[starts]] = np.minimum.reduceat(c_a + u[c_c] * h_a + w[c_c] * p_a, starts)
                new = []
                for a in range(0, len(free), per):
                    acc, red = reduced(z, a)
                    b = red.argmin(axis=1)
                    better = red[np.arange(len(acc)), b] < low[acc] - 0.1 * eps
                    new.append((acc * m + b)[better])
                new = np.concatenate(new)
                if not len(new):
                    break
                keys = np.union1d(keys, new)
                r_a, c_c, starts, seg, c_a, h_a, p_a = arcs(keys)
        lp, repair = [], []
        for a in range(0, len(free), per):
            acc, red = reduced(z, a)
            gap = red - red.min(axis=1, keepdims=True)
            ids = acc[:, None] * m + np.arange(m)
            lp.append(ids[gap <= 0.02])
            repair.append(ids[gap <= 1.0])
        own = np.r_[has * m + self.current_[has], lk * m + self.current_[lk]]
        return np.union1d(np.concatenate(lp), own), np.union1d(np.concatenate(repair), own)

    def _relaxation(self, tol: float, keys: np.ndarray | None = None, rel: float = 1e-5):
        """LP relaxation by column generation; returns (model, keys, status, bound) with the
        bound in cost units. Pricing stops once the Lagrangian bound is within ``rel`` of the
        LP value; the bound returned is valid either way. "infeasible" when the elastic LP
        still needs slack after every arc has been priced."""
        basis = None
        warm = getattr(self, "warm_", None)
        if keys is None and warm is not None and warm[0] == (self.n_, self.m_):
            keys, basis = warm[1], warm[2]  # the last solve's arcs, in its column order
        keys = self._candidate_arcs(self.candidates) if keys is None else keys
        if not hasattr(self, "scales_"):
            self._set_scales(keys)
        model = self._build(keys, tol, elastic=True)
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
            if status != highspy.HighsModelStatus.kOptimal:
                return model, keys, str(status), bound
            value = model.highs.getInfo().objective_function_value
            new, correction = self._price(model, keys)
            bound = max(bound, (value + correction) * self.scales_[2])
            if not len(new) or -correction <= rel * max(abs(value), 1.0):
                break
            keys = np.union1d(keys, new)
            self._add_arcs(model, new)
        slack = np.asarray(model.highs.getSolution().col_value)[1 : model.base]
        if slack.size and slack.max() > 1e-7:
            return model, keys, "infeasible", bound
        self.warm_ = ((self.n_, self.m_), model.rows * self.m_ + model.cols, model.highs.getBasis())
        return model, keys, "optimal", bound

    # ------------------------------------------------------------------ solve

    def solve(
        self, exact: bool | None = None, time_limit: float | None = None, quick: bool = False
    ):
        """Solve; sets ``assignment_``, ``objective_``, ``lower_bound_``, ``gap_``,
        ``moves_`` and ``summary_``. Returns self.

        ``exact`` (by default when accounts x territories is at most 5,000) hands every
        account to the MILP, on every arc, so its bound is global; otherwise only the
        neighbourhood of the LP's split and cheaply movable accounts is free. ``quick``
        keeps the first feasible rounding instead of also polishing it with MILPs (for
        interactive re-solves; the gap says what that costs). Plans of 20,000,000 accounts x
        territories or more whose workload is call hours, with rep-home coordinates and no
        cap on moves, are solved region by region
        (:func:`terrlib.territory.regions.solve_by_regions`)
        unless ``exact``.

        Raises
        ------
        InfeasibleRequest
            When no assignment meets the rules, naming the rule and the tightest tolerance
            that can be met.
        """
        began = time.perf_counter()
        limit = self.time_limit if time_limit is None else time_limit
        self._prepare()
        if exact is None:
            exact = self.n_ * self.m_ <= _EXACT
        if (
            not exact
            and self.n_ * self.m_ >= _REGIONS
            and self.totals is None
            and self.distances is None
            and not np.isfinite(self.cap_)
            and not self.trips_.any()
        ):
            from terrlib.territory.regions import solve_by_regions  # regions builds on this module

            return solve_by_regions(self)
        keys = None
        if exact:
            keys = np.arange(self.n_ * self.m_)
            keys = keys[
                ~self.locked_[keys // self.m_]
                | (keys % self.m_ == np.repeat(np.maximum(self.current_, 0), self.m_)[keys])
            ]
            keys = keys[self._allowed(keys // self.m_, keys % self.m_)]
        repair_arcs = None
        warm = getattr(self, "warm_", None)
        if (
            not exact
            and self.n_ * self.m_ >= _DUAL
            and not self.trips_.any()  # hours the same whoever serves the account
            and (warm is None or warm[0] != (self.n_, self.m_))
        ):
            keys, repair_arcs = self._dual_start(self.tolerance)
        model, keys, status, bound = self._relaxation(self.tolerance, keys)
        if status == "infeasible":
            raise InfeasibleRequest(self._diagnose(), self._tightest)
        if status != "optimal":
            raise RuntimeError(f"the LP solver stopped: {status}")
        self.lp_seconds_ = time.perf_counter() - began
        self.lp_bound_ = self.lower_bound_ = bound
        self.prices_ = self._prices(model)
        x = np.asarray(model.highs.getSolution().col_value)[model.base :]
        rows, cols = model.rows, model.cols
        keys = rows * self.m_ + cols
        split = np.zeros(self.n_, bool)
        frac = (x > 1e-6) & (x < 1 - 1e-6)
        split[rows[frac]] = True
        self.split_accounts_ = int(split.sum())
        red = self._reduced_costs(model, rows, cols)
        assign = self._integer(
            model, keys, x, red, split, exact and not quick, limit, quick, repair_arcs
        )
        self._finish(assign)
        self.seconds_ = time.perf_counter() - began
        return self

    def _prices(self, model: _Model) -> dict[str, np.ndarray]:
        """The LP's multipliers of each territory's rows in cost per unit (hours above and
        below the band, potential above and below, accounts over the limit; all >= 0) and
        of the moved cap (``moved``), for a Lagrangian bound of a larger plan."""
        lay, m = model.layout, self.m_
        y = np.asarray(model.highs.getSolution().row_dual)
        sh, sp, sc = self.scales_
        pot = y[lay["pot"] : lay["pot"] + m]
        out = {
            "hours_over": np.maximum(-y[lay["up"] : lay["up"] + m], 0) * sc / sh,
            "hours_under": np.maximum(y[lay["lo"] : lay["lo"] + m], 0) * sc / sh,
            "potential_over": np.maximum(-pot, 0) * sc / sp,
            "potential_under": np.maximum(pot, 0) * sc / sp,
            "count": np.zeros(m),
            "moved": np.zeros(1),
        }
        if self.max_accounts_ is not None:
            out["count"] = np.maximum(-y[lay["cnt"] : lay["cnt"] + m], 0) * sc
        if np.isfinite(self.cap_):
            out["moved"] = np.maximum(-y[lay["cap"] : lay["cap"] + 1], 0) * sc
        return out

    def _tighten(self, model: _Model, factor: float) -> bool:
        """Re-solve the LP with every band (and the moved cap) shrunk to ``factor`` of its
        width, warm-started, pricing in arcs while it needs slack; True when it is then
        feasible without slack."""
        hs, lay, m, s = model.highs, model.layout, self.m_, self.share_
        t, tp = self.tolerance * factor, min(self.p_tol_, 10.0) * factor
        for k in range(m):
            hs.changeCoeff(lay["up"] + k, 0, -(1 + t) * s[k])
            hs.changeCoeff(lay["lo"] + k, 0, -(1 - t) * s[k])
        total_p = self._total(1, self.potential_.sum()) / self.scales_[1]
        idx = (lay["pot"] + np.arange(m)).astype(np.int32)
        hs.changeRowsBounds(m, idx, (1 - tp) * s * total_p, (1 + tp) * s * total_p)
        if np.isfinite(self.cap_):
            hs.changeRowBounds(lay["cap"], -_INF, self.cap_ * (0.9 + 0.1 * factor))
        for _ in range(20):
            hs.run()
            if hs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                return False
            slack = np.asarray(hs.getSolution().col_value)[1 : model.base]
            if slack.max(initial=0) <= 1e-7:
                return True
            # the narrower bands may need arcs the LP left out: price them in, as the
            # relaxation does, before calling the width infeasible
            new, _ = self._price(model, np.sort(model.rows * self.m_ + model.cols))
            if not len(new):
                return False
            self._add_arcs(model, new)
        return False

    def _round(self, model: _Model) -> np.ndarray:
        """The LP solution rounded: each account to its largest part, its current territory
        on ties."""
        x = np.asarray(model.highs.getSolution().col_value)[model.base :]
        rows, cols = model.rows, model.cols
        weight = x + 1e-3 * (cols == self.current_[rows])
        best = np.full(self.n_, -1.0)
        np.maximum.at(best, rows, weight)
        top = weight >= best[rows]
        guess = np.zeros(self.n_, int)
        guess[rows[top]] = cols[top]
        return guess

    def _integer(self, model, keys, x, red, split, exact, limit, quick=False, repair_arcs=None):
        """An integer assignment from the LP. Rounding the LP breaks bands where the split
        accounts are large (and a territory at the edge of its band leaves no room), so the
        LP is re-solved with bands shrunk a little more each time until its rounding,
        repaired with single moves (and, unless ``quick``, by a MILP over the territories
        still out of band, skipped at the width just after one where it found nothing),
        meets every band; it is then improved by feasible single moves.
        Unless ``quick``, a MILP then re-solves the LP's own rounding around its
        least-decided accounts, and MILPs over groups of neighbouring territories polish the
        best. A MILP over growing sets of accounts takes over when nothing is feasible, and
        on small instances (``exact``) one sees every account. ``repair_arcs`` (from
        :meth:`_dual_start`) widens the arcs single moves may use beyond the LP's, and there
        the MILP around the LP's rounding is skipped: on 20,000 accounts x 100 territories it
        took 17-26 s and never improved the plan, nor on 5,000 x 50."""
        n, m = self.n_, self.m_
        rows = keys // m
        wide = keys if repair_arcs is None else np.union1d(keys, repair_arcs)
        r_rows, r_cols = wide // m, wide % m  # the arcs single moves may use
        best, feasible, first = None, False, None

        def rounded_by(repair: str, factor: float) -> str:
            return f"LP relaxation, rounding, {repair} and local search" + (
                "" if factor == 1 else f" (bands shrunk to {factor:.0%} for rounding)"
            )

        left_out = []  # (factor, repaired rounding) that single moves left out of band
        failed = 2.0  # the band width whose MILP mend last found nothing
        for factor in (1.0, 0.95, 0.85, 0.7, 0.5, 0.25):
            if factor < 1 and not self._tighten(model, factor):
                break
            rounded = self._round(model)
            first = rounded if first is None else first
            repaired = self._repair(rounded, r_rows, r_cols)
            if self.evaluate(repaired)["breach"] > 1e-9 and not quick and factor <= failed - 0.1:
                # a mend that found nothing is not tried again at the next width, barely
                # narrower: a failing mend costs the MILP's whole root node and node cap
                mended = self._mend(repaired, limit)
                if mended is None:
                    failed = factor
                else:
                    repaired = mended
            if self.evaluate(repaired)["breach"] > 1e-9:
                left_out.append((factor, repaired))
                continue
            best, feasible = self._improve(repaired, r_rows, r_cols), True
            self.method_ = rounded_by("repair", factor)
            break  # shrinking the bands further only makes the rounding dearer
        # a quick solve mends by MILP only when single moves fail at every band width (far
        # cheaper than the growing MILPs below)
        for factor, repaired in left_out:
            if not quick or feasible:
                break
            mended = self._mend(repaired, limit)
            if mended is not None:
                best, feasible = self._improve(mended, r_rows, r_cols), True
                self.method_ = rounded_by("repair by MILP", factor)
        # each account's cheapest alternative to its LP territory (reduced cost)
        alt = np.where(x > 1 - 1e-6, np.inf, red)
        cheapest = np.full(n, np.inf)
        np.minimum.at(cheapest, rows, alt)
        cheapest[split] = -np.inf
        cheapest[self.locked_] = np.inf
        size = min(n, max(400, 6 * int(split.sum()) + 200))
        self.free_accounts_ = 0

        def gap(a: np.ndarray) -> float:
            score = self.evaluate(a)["objective"]
            return (score - self.lower_bound_) / max(score, 1e-12)

        if feasible and not quick and not exact and repair_arcs is None and gap(best) > 0.005:
            # the LP's own rounding with its least-decided accounts (and those where the
            # best plan differs) re-solved exactly, started from the best plan
            run = self._milp_around(
                first, keys, x, red, cheapest, size, limit, start=best, nodes=_POLISH_NODES
            )
            found = run["found"]
            if found is not None and (
                self.evaluate(found)["objective"] < self.evaluate(best)["objective"]
            ):
                best, self.free_accounts_ = found, run["free"]
                self.method_ = f"LP relaxation, rounding, then MILP on {run['free']:,} accounts" + (
                    "" if run["optimal"] else f" (stopped at {_POLISH_NODES} nodes)"
                )
        if feasible and not quick and gap(best) > 0.005:
            # stops on its count of MILPs; the deadline is a safety net only
            polished = self._neighbourhoods(best, time.perf_counter() + 100 * limit, limit)
            if self.evaluate(polished)["objective"] < self.evaluate(best)["objective"]:
                best = polished
                self.method_ += ", then MILPs over groups of neighbouring territories"
        if feasible and not exact:
            return best
        assign = best if feasible else self._round(model)
        size = n if exact else size
        while True:
            # a quick solve takes the first plan that keeps every rule
            run = self._milp_around(
                assign, keys, x, red, cheapest, size, limit, first=quick and not feasible
            )
            found = run["found"]
            if found is not None:
                if not feasible or (
                    self.evaluate(found)["objective"] < self.evaluate(assign)["objective"]
                ):
                    assign, feasible = found, True
                if size >= n and len(keys) >= self._all_arcs_count():
                    # the MILP saw every arc and account: its bound holds for the problem
                    self.lower_bound_ = max(self.lower_bound_, run["bound"])
                self.method_ = (
                    "LP relaxation, then MILP on "
                    + ("every account" if size >= n else f"{run['free']:,} accounts")
                    + ("" if run["optimal"] else " (its first plan)" if quick else " (time limit)")
                )
            if feasible:
                self.free_accounts_ = run["free"]
                return assign
            if size >= n:
                raise InfeasibleRequest(
                    (
                        f"no assignment was found within the {limit:g}-second limit (the LP "
                        "relaxation is feasible); "
                        if run["timed_out"]
                        else ""
                    )
                    + self._diagnose(),
                    self._tightest,
                )
            size = min(n, size * 4)

    def _run_milp(
        self,
        model: _Model,
        fixed: np.ndarray,
        start: np.ndarray,
        limit: float,
        nodes=None,
        first: bool = False,
    ) -> np.ndarray | None:
        """Run a MILP from :meth:`_build` (accounts with ``fixed[i] >= 0`` fixed there)
        started from assignment ``start`` (HiGHS drops a start that breaks a rule), within
        ``limit`` seconds and at most ``nodes`` branch-and-bound nodes; ``first`` stops at
        the first feasible solution. Returns the assignment found when it keeps every rule,
        else None; the model's HiGHS object still holds the status and bound."""
        hs = model.highs
        hs.setOptionValue("time_limit", float(limit))
        hs.setOptionValue("mip_rel_gap", 1e-4)
        if nodes is not None:
            hs.setOptionValue("mip_max_nodes", int(nodes))
        if first:
            hs.setOptionValue("mip_max_improving_sols", 1)
        sol = highspy.HighsSolution()
        sol.col_value = list(
            np.r_[
                self._total(0, self.arc_values(np.arange(self.n_), start)["hours"].sum())
                / self.scales_[0],
                (model.cols == start[model.rows]).astype(float),
            ]
        )
        sol.value_valid = True
        hs.setSolution(sol)
        hs.run()
        if hs.getInfo().primal_solution_status != 2:
            return None
        x = np.asarray(hs.getSolution().col_value)[model.base :]
        found = fixed.copy()
        on = x > 0.5
        found[model.rows[on]] = model.cols[on]
        ok = (found >= 0).all() and self.evaluate(found)["breach"] <= 1e-9
        return found if ok else None

    def _milp_around(
        self, assign, keys, x, red, cheapest, size, limit, start=None, nodes=None, first=False
    ) -> dict:
        """A MILP over the ``size`` accounts with the cheapest alternative to their LP
        territory (every free account when ``size`` is n), the rest fixed as in ``assign``,
        on the arcs the LP prices within reach, started from ``start`` (default
        ``assign``); accounts where the two differ are free too, so a feasible ``start``
        is a feasible start. Returns the feasible assignment found (or None), how many
        accounts were free, whether the MILP was solved to optimality or timed out, and its
        bound in cost units. ``nodes`` caps the branch-and-bound nodes, so that unless the
        time limit comes first the result does not depend on the machine's speed; ``first``
        stops at the first plan that keeps every rule."""
        n, m = self.n_, self.m_
        rows, cols = keys // m, keys % m
        if size >= n:
            free, theta = ~self.locked_, np.inf
        else:
            theta = np.partition(cheapest, size - 1)[size - 1]
            free = cheapest <= theta
        start = assign if start is None else start
        free = free | ((start != assign) & ~self.locked_)
        fixed = np.where(free, -1, assign)
        arc_ok = free[rows] & (
            (red <= theta)
            | (x > 1e-6)
            | (cols == self.current_[rows])
            | (cols == assign[rows])
            | (cols == start[rows])
        )
        model = self._build(keys[arc_ok], self.tolerance, integer=True, fixed=fixed)
        hs = model.highs
        found = self._run_milp(model, fixed, start, limit, nodes, first)
        info, status = hs.getInfo(), hs.getModelStatus()
        optimal = status == highspy.HighsModelStatus.kOptimal
        dual = (
            info.mip_dual_bound
            if not optimal
            else info.objective_function_value * (1 - info.mip_gap)
        )
        return {
            "found": found,
            "free": int(free.sum()),
            "optimal": optimal,
            "timed_out": status == highspy.HighsModelStatus.kTimeLimit,
            "bound": dual * self.scales_[2],
        }

    def _loads(self, assign: np.ndarray):
        """Each account's arc values under ``assign`` (see :meth:`arc_values`) and each
        territory's hours, potential and number of accounts."""
        m = self.m_
        v = self.arc_values(np.arange(self.n_), assign)
        hours = np.bincount(assign, weights=v["hours"], minlength=m)
        pot = np.bincount(assign, weights=self.potential_, minlength=m)
        return v, hours, pot, np.bincount(assign, minlength=m).astype(float)

    def _excess(self, hours, pot, count, h_t, p_t, lim=None):
        """Each territory's relative breach of its bands (0 inside them); ``lim`` are the
        account limits of the same territories."""
        tol, p_tol = self.tolerance, self.p_tol_
        e = (np.maximum(hours - (1 + tol) * h_t, 0) + np.maximum((1 - tol) * h_t - hours, 0)) / h_t
        e = e + (
            np.maximum(pot - (1 + p_tol) * p_t, 0) + np.maximum((1 - p_tol) * p_t - pot, 0)
        ) / np.maximum(p_t, 1e-12)
        if lim is not None:
            e = e + np.maximum(count - lim, 0) / np.maximum(lim, 1)
        return e

    def _repair(self, assign: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Single moves along the arcs that cut the total band breach, each time the cheapest
        of those that cut it by at least a quarter of the best possible cut, never breaking
        the cap on moved accounts."""
        m = self.m_
        assign = assign.copy()
        arc = self.arc_values(rows, cols)
        p_arc = self.potential_[rows]
        own, hours, pot, count = self._loads(assign)
        own_h, own_c, own_mv = own["hours"], own["cost"], own["moved"]
        moved = own_mv.sum()
        p_t = self._targets(0.0, pot.sum())[1]
        movable = ~self.locked_[rows]
        lim = self.max_accounts_
        if lim is not None:
            lim = np.where(np.isfinite(lim), lim, np.inf)
        for _ in range(20 * m + 1000):
            h_t = self._targets(hours.sum(), 0.0)[0]
            e = self._excess(hours, pot, count, h_t, p_t, lim)
            if e.sum() <= 1e-12:
                break
            bad = e > 0
            j = np.flatnonzero(movable & (cols != assign[rows]) & (bad[assign[rows]] | bad[cols]))
            i, a, k = rows[j], assign[rows[j]], cols[j]
            la, lk = (None, None) if lim is None else (lim[a], lim[k])
            d_v = (
                self._excess(
                    hours[a] - own_h[i], pot[a] - p_arc[j], count[a] - 1, h_t[a], p_t[a], la
                )
                - e[a]
                + self._excess(
                    hours[k] + arc["hours"][j], pot[k] + p_arc[j], count[k] + 1, h_t[k], p_t[k], lk
                )
                - e[k]
            )
            d_mv = arc["moved"][j] - own_mv[i]
            ok = (d_v < -1e-12) & (moved + d_mv <= self.cap_)
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

    def _improve(self, assign: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Feasible single moves that lower the objective, many per round (at most one into
        or out of each territory), until none is left. Bands are checked against targets
        kept a hair inside the tolerance, and the result is checked exactly at the end."""
        m = self.m_
        start = assign.copy()
        assign = assign.copy()
        arc = self.arc_values(rows, cols)
        p_arc = self.potential_[rows]
        tol, p_tol = self.tolerance * 0.999, self.p_tol_ * 0.999
        lim = self.max_accounts_
        movable = ~self.locked_[rows]
        for _ in range(200):
            own, hours, pot, count = self._loads(assign)
            moved = own["moved"].sum()
            h_t, p_t = self._targets(hours.sum(), pot.sum())
            i = rows
            a, k = assign[rows], cols
            d_c = arc["cost"] - own["cost"][i]
            j = np.flatnonzero(movable & (k != a) & (d_c < -1e-9 * self.scales_[2]))
            if not len(j):
                break
            i, a, k = rows[j], assign[rows[j]], cols[j]
            ha, hk = hours[a] - own["hours"][i], hours[k] + arc["hours"][j]
            pa, pk = pot[a] - p_arc[j], pot[k] + p_arc[j]
            ok = (
                (ha >= (1 - tol) * h_t[a])
                & (hk <= (1 + tol) * h_t[k])
                & (ha <= (1 + tol) * h_t[a])
                & (hk >= (1 - tol) * h_t[k])
                & (pa >= (1 - p_tol) * p_t[a])
                & (pk <= (1 + p_tol) * p_t[k])
                & (moved + arc["moved"][j] - own["moved"][i] <= self.cap_)
            )
            if lim is not None:
                ok &= count[k] + 1 <= lim[k]
            j, a, k = j[ok], a[ok], k[ok]
            if not len(j):
                break
            order = np.argsort(d_c[j], kind="stable")
            used = np.zeros(m, bool)
            budget = self.cap_ - moved
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
        if self.evaluate(assign)["breach"] > 1e-9:
            assign = self._repair(assign, rows, cols)
            if self.evaluate(assign)["breach"] > 1e-9:
                return start
        return assign

    def _near_territories(self, k: int) -> np.ndarray:
        """Each territory's ``k`` nearest territories by rep home, itself first."""
        m = self.m_
        k = min(k, m)
        if self.distances is None:
            home = unit_vectors(self.home_lat_, self.home_lon_)
            _, near = cKDTree(home).query(home, k)
            return np.asarray(near).reshape(m, k)
        # no home positions: territories whose distances to accounts correlate most
        return np.argsort(-np.corrcoef(self.distances.T), axis=1)[:, :k]

    def _regroup(
        self,
        assign: np.ndarray,
        group: np.ndarray,
        limit: float,
        arcs: int = 4,
        nodes: int | None = None,
        first: bool = False,
    ):
        """The accounts of territories ``group`` re-assigned among them by an exact MILP
        (each over its ``arcs`` cheapest territories of the group and its own), every other
        account fixed, started from ``assign``. Returns the assignment found when it keeps
        every rule, else None. ``nodes`` caps the branch-and-bound nodes; ``first`` stops at
        the first solution that keeps every rule (for repair, where any will do)."""
        m = self.m_
        free = np.isin(assign, group) & ~self.locked_
        acc = np.flatnonzero(free)
        if not len(acc):
            return None
        rows = np.repeat(acc, len(group))
        cols = np.tile(group, len(acc))
        cost = self.arc_values(rows, cols)["cost"].reshape(len(acc), len(group))
        cost[~self._allowed(rows, cols).reshape(cost.shape)] = np.inf
        keep = np.argsort(cost, axis=1, kind="stable")[:, : min(arcs, len(group))]
        ok = np.take_along_axis(cost, keep, axis=1) < np.inf
        keys = np.unique(np.r_[(acc[:, None] * m + group[keep])[ok], acc * m + assign[acc]])
        fixed = np.where(free, -1, assign)
        model = self._build(keys, self.tolerance, integer=True, fixed=fixed)
        return self._run_milp(model, fixed, assign, limit, nodes, first)

    def _mend(self, assign: np.ndarray, limit: float, reach: int = 4) -> np.ndarray | None:
        """Repair by MILP what single moves could not: the territories still outside a band
        and their ``reach - 1`` nearest neighbours are re-solved together (see
        :meth:`_regroup`). None when that finds nothing within ``limit`` seconds."""
        v, hours, pot, count = self._loads(assign)
        lim = self.max_accounts_
        if lim is not None:
            lim = np.where(np.isfinite(lim), lim, np.inf)
        e = self._excess(hours, pot, count, *self._targets(hours.sum(), pot.sum()), lim)
        bad = np.flatnonzero(e > 0)
        if not len(bad) or (np.isfinite(self.cap_) and v["moved"].sum() > self.cap_):
            return None
        group = np.unique(self._near_territories(reach)[bad])
        return self._regroup(assign, group, limit, arcs=3, nodes=_POLISH_NODES, first=True)

    def _neighbourhoods(
        self,
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
        visited dearest first; pairs first, and each time a pass finds nothing the groups
        grow by one territory, up to ``largest``. Stops after ``solves`` MILPs (default: one
        per two territories, at least 10): a count rather than a time, so the result does not
        depend on the machine; ``deadline`` (and ``limit`` seconds a MILP) is only a safety
        net. Groups over ``accounts`` free accounts are skipped."""
        n, m = self.n_, self.m_
        if m < 2:
            return assign
        near = self._near_territories(largest)
        seen: set = set()
        size = 2
        solves = max(10, m // 2) if solves is None else solves
        while size <= near.shape[1] and time.perf_counter() < deadline and solves > 0:
            improved = False
            cost = self.arc_values(np.arange(n), assign)["cost"]
            for k in np.argsort(-np.bincount(assign, weights=cost, minlength=m), kind="stable"):
                left = deadline - time.perf_counter()
                if left <= 0.05 or solves <= 0:
                    break
                group = np.unique(near[k, :size])
                acc = np.flatnonzero(np.isin(assign, group) & ~self.locked_)
                key = (tuple(group.tolist()), hash(acc.tobytes()), hash(assign[acc].tobytes()))
                if key in seen or not 0 < len(acc) <= accounts:
                    continue
                seen.add(key)
                solves -= 1
                trial = self._regroup(
                    assign, group, min(limit, left), arcs=size, nodes=_POLISH_NODES
                )
                if trial is not None and self.evaluate(trial)["objective"] < self.evaluate(assign)[
                    "objective"
                ] * (1 - 1e-9):
                    assign, improved = trial, True
            if not improved:
                size += 1
        return assign

    def _all_arcs_count(self) -> int:
        """Arcs of the full problem: every territory within reach for a free account, the
        current one for a locked account."""
        free = np.flatnonzero(~self.locked_)
        if self.max_distance_km is None:
            return int(len(free) * self.m_ + self.locked_.sum())
        rows, cols = np.repeat(free, self.m_), np.tile(np.arange(self.m_), len(free))
        return int(self._allowed(rows, cols).sum() + self.locked_.sum())

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, assign: np.ndarray) -> dict[str, float]:
        """Objective, travel, moved weight and total band breach of an assignment given as
        territory positions (0..m-1) per account; ``breach`` is 0 when every band holds."""
        if not hasattr(self, "n_"):
            self._prepare()
        assign = np.asarray(assign, int)
        v, hours, pot, count = self._loads(assign)
        tol, p_tol = self.tolerance, self.p_tol_
        h_t, p_t = self._targets(hours.sum(), pot.sum())
        breach = (
            np.maximum(hours - (1 + tol) * h_t, 0) + np.maximum((1 - tol) * h_t - hours, 0)
        ).sum() / h_t.mean() + (
            np.maximum(pot - (1 + p_tol) * p_t, 0) + np.maximum((1 - p_tol) * p_t - pot, 0)
        ).sum() / max(p_t.mean(), 1e-12)
        if self.max_accounts_ is not None:
            breach += np.maximum(count - self.max_accounts_, 0).sum()
        moved = float(v["moved"].sum())
        breach += max(moved - self.cap_, 0.0)
        locked_ok = (assign[self.locked_] == self.current_[self.locked_]).all()
        breach += float((~self._allowed(np.arange(self.n_), assign)).sum())
        return {
            "objective": float(v["cost"].sum()),
            "travel": float(v["travel"].sum()),
            "moved": moved,
            "breach": float(breach) + (0.0 if locked_ok else 1.0),
        }

    # ------------------------------------------------------------------ results

    def _finish(self, assign: np.ndarray) -> None:
        score = self.evaluate(assign)
        if score["breach"] > 1e-6:
            raise InfeasibleRequest(self._diagnose(), self._tightest)
        self.feasible_ = True
        self.assign_idx_ = assign
        self.assignment_ = pd.Series(
            self.ids_[assign], index=self.accounts["account_id"], name="territory_id"
        )
        self.objective_ = score["objective"]
        self.lower_bound_ = min(self.lower_bound_, self.objective_)  # rounding noise only
        self.gap_ = max(0.0, (self.objective_ - self.lower_bound_) / max(self.objective_, 1e-12))
        self.travel_ = score["travel"]
        known = np.flatnonzero(self.current_ >= 0)
        before = self.arc_values(known, self.current_[known])
        self.travel_before_ = float(before["travel"].sum())
        self.summary_ = self._territory_summary(assign)
        self.moves_ = self._moves(assign)

    def _territory_summary(self, assign: np.ndarray) -> pd.DataFrame:
        cur = np.where(self.current_ >= 0, self.current_, assign)
        m = self.m_
        out = {"territory_id": self.ids_}
        for label, a in (("before", cur), ("after", assign)):
            v = self.arc_values(np.arange(self.n_), a)
            hours = np.bincount(a, weights=v["hours"], minlength=m)
            pot = np.bincount(a, weights=self.potential_, minlength=m)
            out[f"accounts_{label}"] = np.bincount(a, minlength=m)
            out[f"hours_{label}"] = hours
            h_t, p_t = self._targets(hours.sum(), pot.sum())
            out[f"workload_vs_target_{label}"] = hours / h_t
            out[f"potential_{label}"] = pot
            out[f"potential_vs_target_{label}"] = pot / p_t
            out[f"travel_km_{label}"] = np.bincount(a, weights=v["distance"], minlength=m)
        return pd.DataFrame(out)

    def _moves(self, assign: np.ndarray) -> pd.DataFrame:
        """One row per moved account with the imbalance it relieves and its travel change."""
        i = np.flatnonzero((self.current_ >= 0) & (assign != self.current_))
        a, b = self.current_[i], assign[i]
        d0, d1 = self._dist(i, a), self._dist(i, b)
        s = self.summary_
        wa0 = s["workload_vs_target_before"].to_numpy()[a]
        wa1 = s["workload_vs_target_after"].to_numpy()[a]
        wb0 = s["workload_vs_target_before"].to_numpy()[b]
        wb1 = s["workload_vs_target_after"].to_numpy()[b]
        pa0 = s["potential_vs_target_before"].to_numpy()[a]
        pb0 = s["potential_vs_target_before"].to_numpy()[b]
        ia, ib = self.ids_[a], self.ids_[b]
        kind = np.select(
            [
                wa0 > 1 + self.tolerance,
                wb0 < 1 - self.tolerance,
                (pa0 > 1 + self.p_tol_) | (pb0 < 1 - self.p_tol_),
                d1 < d0,
            ],
            ["relieves", "fills", "balances potential", "shorter travel"],
            "makes room for other moves",
        )
        reason = []
        for k, ta, tb, xa0, xa1, xb0, xb1, x0, x1 in zip(
            kind, ia, ib, wa0, wa1, wb0, wb1, d0, d1, strict=True
        ):
            if k == "relieves":
                k = f"relieves {ta} (workload {xa0:.0%} -> {xa1:.0%} of target)"
            elif k == "fills":
                k = f"fills {tb} (workload {xb0:.0%} -> {xb1:.0%} of target)"
            reason.append(f"{k}; travel {x0:.0f} km -> {x1:.0f} km")
        return pd.DataFrame(
            {
                "account_id": self.accounts["account_id"].to_numpy()[i],
                "from": ia,
                "to": ib,
                "km_before": d0,
                "km_after": d1,
                "reason": np.array(reason, dtype=object),
            }
        )

    # ------------------------------------------------------------------ diagnosis

    def _diagnose(self) -> str:
        """Say which rule cannot hold, and the tightest tolerance that can (also kept in
        ``_tightest``, ``None`` when none up to ±100% can)."""
        self._tightest = None
        parts = []
        m = self.m_
        lk = np.flatnonzero(self.locked_)
        if lk.size:
            v = self.arc_values(lk, self.current_[lk])
            hrs = np.bincount(self.current_[lk], weights=v["hours"], minlength=m)
            rows, cols = self._nearest(1)
            est = self.share_ * self.arc_values(rows, cols)["hours"].sum()
            worst = int(np.argmax(hrs / est))
            if hrs[worst] > (1 + self.tolerance) * est[worst]:
                parts.append(
                    f"locked accounts in {self.ids_[worst]} already need "
                    f"{hrs[worst] / est[worst]:.0%} of its workload target"
                )
        small = self.n_ * m <= _SMALL
        every = np.arange(self.n_ * m)
        every = (
            every[
                ~self.locked_[every // m]
                | (every % m == np.repeat(np.maximum(self.current_, 0), m)[every])
            ]
            if small
            else None
        )
        if every is not None:  # the distance limit holds in the diagnosis too
            every = every[self._allowed(every // m, every % m)]

        p_saved = self.p_tol_
        unsettled: list[float] = []

        def feasible(tol: float) -> bool:
            self.p_tol_ = max(p_saved, tol)  # potential's band never tighter than workload's
            if not small:  # the LP's answer: the true tightest tolerance is at least this
                try:
                    return self._relaxation(tol)[2] == "optimal"
                finally:
                    self.p_tol_ = p_saved
            saved = self.tolerance
            self.tolerance = tol
            try:
                model = self._build(every, tol, integer=True)
                model.highs.setOptionValue("time_limit", 2.0)
                model.highs.setOptionValue("mip_rel_gap", 1.0)
                model.highs.run()
                found = model.highs.getInfo().primal_solution_status == 2
                if (
                    not found
                    and model.highs.getModelStatus() != highspy.HighsModelStatus.kInfeasible
                ):
                    unsettled.append(tol)  # neither a plan nor a proof within the time
                return found
            finally:
                self.tolerance = saved
                self.p_tol_ = p_saved

        lo, hi = self.tolerance, 1.0
        if not feasible(hi):
            parts.append("no tolerance up to ±100% can be met")
            if self.max_moved_share is not None:
                parts.append(f"the cap of {self.max_moved_share:.0%} moved may be too tight")
            return "the balance rules cannot all hold: " + "; ".join(parts)
        for _ in range(8 if small else 10):
            mid = (lo + hi) / 2
            if feasible(mid):
                hi = mid
            else:
                lo = mid
        what = "; ".join(parts) + "; " if parts else ""
        self._tightest = hi
        tightest = (
            f"a tolerance of ±{hi:.1%} can be met (whether a tighter one can was not settled "
            "in the time allowed)"
            if unsettled
            else f"the tightest tolerance that can be met is about ±{hi:.1%}"
        )
        return (
            f"the balance rules cannot all hold at ±{self.tolerance:.1%}: {what}{tightest}"
            + ("" if small else " or a little more (from the LP relaxation)")
            + (
                f" with at most {self.max_moved_share:.0%} of "
                + ("accounts" if self.cap_by == "accounts" else "revenue")
                + " moved"
                if self.max_moved_share is not None
                else ""
            )
        )


def from_dataset(
    data,
    scores: pd.DataFrame | None = None,
    tiers: pd.DataFrame | None = None,
    frequency: float = 1.0,
    **options,
) -> TerritoryOptimizer:
    """Build the optimizer for a :class:`~terrlib.inputs.dataset.Dataset`.

    Calls a year come from the plan's coverage model by size band, times the plan's
    ``tier_multipliers`` for stage 3's ICP tier when ``tiers`` (``account_id``, ``tier``) is
    given, times ``frequency`` (a what-if on the whole coverage model). Potential comes from
    stage 2's ``scores`` (account revenue otherwise); targets are in proportion to each
    rep's capacity; tolerance, locks and the moved cap come from the plan, and any of them
    can be overridden by ``options``.
    """
    from terrlib.inputs.coverage import coverage_calls

    plan = data.plan
    acc = data.accounts
    calls, minutes = coverage_calls(plan, acc, tiers, frequency)
    if scores is not None and "potential" in scores:
        potential = scores.set_index("account_id")["potential"].reindex(acc["account_id"])
    else:
        potential = acc.set_index("account_id")["annual_revenue"]
    frame = pd.DataFrame(
        {
            "account_id": acc["account_id"],
            "latitude": acc["latitude"],
            "longitude": acc["longitude"],
            "calls": calls,
            "call_hours": calls * minutes / 60,
            "potential": potential.fillna(0.0).to_numpy(),
            "territory_id": acc["territory_id"],
            "revenue": acc["annual_revenue"].to_numpy(float),
            "locked": acc["account_id"].isin(plan.balance.locked_accounts).to_numpy(),
        }
    )
    reps = data.reps.drop_duplicates("territory_id")
    homes = pd.DataFrame(
        {
            "territory_id": reps["territory_id"],
            "rep_name": reps["rep_name"],
            "home_latitude": reps["home_latitude"],
            "home_longitude": reps["home_longitude"],
            "capacity": reps["capacity_hours"],
        }
    )
    settings = {
        "tolerance": plan.balance.tolerance,
        "potential_tolerance": plan.balance.potential_tolerance,
        "max_moved_share": plan.balance.max_moved_share,
        "max_distance_km": plan.balance.max_distance_km,
        "visits_per_call": plan.coverage.visit_share,
        "travel_speed_kmh": plan.coverage.travel_speed_kmh,
        "min_travel_minutes": plan.coverage.min_travel_minutes,
        "disruption": plan.balance.weights.disruption,
    } | options
    return TerritoryOptimizer(frame, homes, **settings)


def proposal(opt: TerritoryOptimizer) -> pd.DataFrame:
    """One row per account: current and proposed territory and rep, moved, reason."""
    acc = opt.accounts
    reps = (
        opt.territories.set_index("territory_id")["rep_name"]
        if "rep_name" in opt.territories
        else pd.Series(opt.ids_, index=opt.ids_)
    )
    reps.index = reps.index.astype(str)
    current = acc["territory_id"].astype(str)
    proposed = opt.assignment_.to_numpy()
    reason = pd.Series("", index=acc.index)
    if len(opt.moves_):
        why = opt.moves_.set_index("account_id")["reason"]
        reason = acc["account_id"].map(why).fillna("")
    return pd.DataFrame(
        {
            "account_id": acc["account_id"],
            "current_territory": current,
            "current_rep": current.map(reps).to_numpy(),
            "proposed_territory": proposed,
            "proposed_rep": pd.Series(proposed).map(reps).to_numpy(),
            "moved": current.to_numpy() != proposed,
            "reason": reason.to_numpy(),
        }
    )


def travel_change(opt: TerritoryOptimizer, travel: float) -> float:
    """``travel`` against the travel of today's alignment (``+0.1``: 10% more); NaN where
    nothing is aligned today (a green field)."""
    return travel / opt.travel_before_ - 1 if opt.travel_before_ > 0 else np.nan


def solve_or_widen(opt: TerritoryOptimizer, tries: int = 3) -> TerritoryOptimizer:
    """Solve ``opt``; when its tolerance cannot be met under the other rules (the cap on
    moves, locks, the distance limit), solve a copy at the tightest tolerance the diagnosis
    found can be met (a little wider each time it still cannot) and keep in ``widened_`` the
    tolerance asked for and why it could not hold. The plan's request is never met silently
    wider: :func:`headline` says so.

    Raises
    ------
    InfeasibleRequest
        When no tolerance up to ±100% can be met.
    """
    try:
        return opt.solve()
    except InfeasibleRequest as err:
        first, tolerance = err, err.tolerance
    for _ in range(tries):
        if tolerance is None:
            break
        trial = copy.copy(opt)
        trial.tolerance = min(1.0, tolerance)
        if trial.potential_tolerance is not None:
            trial.potential_tolerance = max(trial.potential_tolerance, trial.tolerance)
        try:
            trial.solve()
        except InfeasibleRequest:
            tolerance = None if tolerance >= 1.0 else min(1.0, tolerance * 1.25)
            continue
        trial.widened_ = (opt.tolerance, str(first))
        return trial
    raise first


def headline(opt: TerritoryOptimizer) -> str:
    """The proposal in one or two sentences, with its certified gap."""
    s = opt.summary_
    w0, w1 = s["workload_vs_target_before"], s["workload_vs_target_after"]
    out0 = int(((w0 - 1).abs() > opt.tolerance + 1e-9).sum())
    widened = getattr(opt, "widened_", None)
    asked = (
        f"The plan's ±{widened[0]:.0%} cannot be met under its other rules (cap on accounts "
        f"moved, locks, distance), so this proposal balances to ±{opt.tolerance:.0%}, the "
        "tightest that can be met. "
        if widened
        else ""
    )
    unaligned = int((opt.current_ < 0).sum())
    if unaligned == opt.n_:  # a green field: nothing today to compare with
        return asked + (
            f"No account has a territory yet: the proposal assigns all {opt.n_:,} accounts to "
            f"{opt.m_} territories with every territory's workload and potential within "
            f"±{opt.tolerance:.0%} of its target (worst {(w1 - 1).abs().max():.0%} off); it is "
            f"within {opt.gap_:.1%} of the best possible under these rules (certified lower "
            "bound)."
        )
    change = travel_change(opt, opt.travel_)
    travel = (
        f"Call-weighted travel changes by {change:+.0%}"
        if np.isfinite(change)
        else "Travel today is not known"
    )
    newcomers = (
        f" {unaligned:,} accounts had no territory yet and are assigned for the first time."
        if unaligned
        else ""
    )
    return asked + (
        f"The proposed alignment moves {len(opt.moves_):,} of {opt.n_:,} accounts "
        f"({len(opt.moves_) / opt.n_:.0%}) and brings every territory's workload and potential "
        f"within ±{opt.tolerance:.0%} of its target (today {out0} of {opt.m_} territories are "
        f"outside on workload; the worst is {(w0 - 1).abs().max():.0%} off, after "
        f"{(w1 - 1).abs().max():.0%}). {travel}; the proposal is within "
        f"{opt.gap_:.1%} of the best possible under these rules (certified lower bound)."
        + newcomers
    )


def balance_table(opt: TerritoryOptimizer) -> Result:
    """Before/after spread of workload and potential across territories: coefficient of
    variation, max/min, territories outside the tolerance, travel and accounts moved."""
    s = opt.summary_
    rows = []
    for when in ("today", "proposed"):
        key = "before" if when == "today" else "after"
        w, p = s[f"workload_vs_target_{key}"], s[f"potential_vs_target_{key}"]
        rows.append(
            {
                "alignment": when,
                "workload CV": w.std() / w.mean(),
                "workload max/min": w.max() / max(w.min(), 1e-12),
                "workload outside band": int(((w - 1).abs() > opt.tolerance + 1e-9).sum()),
                "potential CV": p.std() / p.mean(),
                "potential max/min": p.max() / max(p.min(), 1e-12),
                "potential outside band": int(((p - 1).abs() > opt.p_tol_ + 1e-9).sum()),
                "travel (call-hour km)": opt.travel_before_ if when == "today" else opt.travel_,
                "accounts moved": 0 if when == "today" else len(opt.moves_),
            }
        )
    return Result(
        "Balance today and proposed",
        headline(opt),
        pd.DataFrame(rows),
        formats={
            "workload CV": "{:.1%}",
            "workload max/min": "{:.2f}",
            "potential CV": "{:.1%}",
            "potential max/min": "{:.2f}",
            "travel (call-hour km)": "{:,.0f}",
            "accounts moved": "{:,}",
        },
        notes=f"CV: standard deviation / mean of each territory's value against its target. "
        f"Band: ±{opt.tolerance:.0%} of target for workload, ±{min(opt.p_tol_, 10):.0%} for "
        "potential. Travel: distance to the rep's home weighted by call hours. Method: "
        f"{opt.method_}; lower bound {opt.lower_bound_:,.0f} against objective "
        f"{opt.objective_:,.0f} (gap {opt.gap_:.2%}).",
    )


def moves_result(
    opt: TerritoryOptimizer, proposal_frame: pd.DataFrame, top: int = 25, far_km: float = 500.0
) -> Result:
    """The moves with their reasons, the largest accounts (by revenue) first; the headline
    counts the moves that leave an account more than ``far_km`` from its new rep's home."""
    acc = opt.accounts.set_index("account_id")
    moves = proposal_frame[proposal_frame["moved"]].copy()
    moves["revenue"] = moves["account_id"].map(acc["revenue"]) if "revenue" in acc else 0.0
    moves = moves.sort_values("revenue", ascending=False)
    km = opt.moves_["km_after"] if len(opt.moves_) else pd.Series(dtype=float)
    far = int((km > far_km).sum())
    far_text = (
        f" {far:,} of them end up more than {far_km:,.0f} km from their new rep's home "
        f"(the farthest {km.max():,.0f} km). To forbid such moves, set "
        "balance.max_distance_km in the plan; if the bands then cannot be met, the optimizer "
        "says the tightest tolerance that can."
        if far
        else ""
    )
    return Result(
        f"Moves (the {min(top, len(moves))} largest of {len(moves):,} by annual revenue)",
        f"{len(moves):,} accounts change rep; "
        f"{int((moves['reason'].str.startswith('relieves')).sum()):,} relieve an overloaded "
        f"territory and {int((moves['reason'].str.startswith('fills')).sum()):,} fill an "
        "underloaded one; the full list is in proposed_alignment.csv and the workbook." + far_text,
        moves.head(top)[
            ["account_id", "current_rep", "proposed_rep", "revenue", "reason"]
        ].reset_index(drop=True),
        formats={"revenue": "{:,.0f}"},
    )


def disruption_curve(
    opt: TerritoryOptimizer, caps: list[float | None], quick: bool = False
) -> Result:
    """Re-solve copies of a solved request with each cap on the share of accounts moved
    (``None``: no cap), warm-started from its LP, and report the balance, travel and gap each
    buys; a cap that cannot be met shows as infeasible with the reason. ``quick`` solves
    each point as the what-if panel does (``solve(quick=True)``); its gap is still shown.
    A cap equal to the solved request's own is that solve, not solved again; repeated caps
    are dropped. No cap is solved as a cap of 100%, which keeps the model's shape; each
    re-solve starts from the basis of the previous point."""
    out = []
    last = opt
    for cap in dict.fromkeys(caps):
        row = {"cap on accounts moved": 1.0 if cap is None else cap}
        if cap == opt.max_moved_share and hasattr(opt, "summary_"):
            trial = last = opt
        else:
            trial = copy.copy(opt)
            if hasattr(last, "warm_"):
                trial.warm_ = last.warm_
            last = trial
            trial.max_moved_share = 1.0 if cap is None else cap
            try:
                trial.solve(quick=quick)
            except InfeasibleRequest as err:
                out.append(row | {"feasible": False, "note": str(err)})
                continue
        w = trial.summary_["workload_vs_target_after"]
        out.append(
            row
            | {
                "accounts moved": len(trial.moves_),
                "workload CV": w.std() / w.mean(),
                "worst workload vs target": float((w - 1).abs().max()),
                "travel vs today": travel_change(trial, trial.travel_),
                "gap to bound": trial.gap_,
                "feasible": True,
                "note": "",
            }
        )
    table = pd.DataFrame(out).reindex(
        columns=[
            "cap on accounts moved",
            "accounts moved",
            "workload CV",
            "worst workload vs target",
            "travel vs today",
            "gap to bound",
            "feasible",
            "note",
        ]
    )
    ok = table[table["feasible"]]
    text = (
        "No cap in the list can be met."
        if ok.empty
        else f"Allowing {ok['cap on accounts moved'].iloc[0]:.0%} of accounts to move gives a "
        f"workload CV of {ok['workload CV'].iloc[0]:.1%}; allowing "
        f"{ok['cap on accounts moved'].iloc[-1]:.0%} gives {ok['workload CV'].iloc[-1]:.1%} "
        f"with travel {ok['travel vs today'].iloc[-1]:+.0%} against today."
    )
    return Result(
        "Disruption against balance",
        text,
        table,
        formats={
            "cap on accounts moved": "{:.0%}",
            "accounts moved": "{:,.0f}",
            "workload CV": "{:.1%}",
            "worst workload vs target": "{:.1%}",
            "travel vs today": "{:+.1%}",
            "gap to bound": "{:.1%}",
        },
        notes="Each row is a solve with the same tolerance (a cap equal to the plan's is the "
        "proposal itself); 100% means no cap. Gap to bound: how far that proposal could at "
        "most be from the best one.",
    )


def write_workbook(path, opt: TerritoryOptimizer, proposal_frame: pd.DataFrame) -> None:
    """An Excel workbook for sales operations: the proposal, the territory summary (before
    and after) and the moves with reasons, plus a sheet saying how good the proposal is."""
    about = pd.DataFrame(
        {
            "item": [
                "objective",
                "lower bound",
                "optimality gap",
                "method",
                "tolerance",
                "cap on accounts moved",
                "accounts moved",
            ],
            "value": [
                opt.objective_,
                opt.lower_bound_,
                opt.gap_,
                opt.method_,
                opt.tolerance,
                opt.max_moved_share,
                len(opt.moves_),
            ],
        }
    )
    sheets = {
        "proposal": proposal_frame,
        "territories": opt.summary_,
        "moves": opt.moves_,
        "about": about,
    }
    write_excel(sheets, path)
