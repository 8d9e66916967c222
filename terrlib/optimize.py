"""The territory optimizer: a balanced, compact, low-disruption assignment of accounts to reps,
with a certified lower bound so every proposal carries its optimality gap.

Model (DESIGN §5). Accounts i, territories k with a rep home. ``x_ik`` = 1 when account i goes
to territory k.

* every account assigned once; locked accounts stay where they are;
* workload: ``sum_i h_ik x_ik`` within ±tolerance of territory k's share of the total, where
  ``h_ik`` is the account's hours a year if served from k's home (call time plus travel), so a
  target follows the rep's capacity (a part-time rep gets half);
* potential: ``sum_i p_i x_ik`` within ±tolerance of k's share of total potential;
* optionally at most ``max_moved_share`` of the accounts change territory;
* minimise ``sum_i c_i d_ik x_ik`` (call hours x distance: travel) plus ``disruption`` x the
  account's revenue weight for every account moved away from its current territory.

Method: the LP relaxation over each account's nearest homes is solved with HiGHS; reduced costs
of every arc left out are priced with the LP duals and violated arcs are added until none is, so
the LP value is a valid lower bound for the full problem. The few accounts the LP splits are
rounded to their largest part and a local search repairs any band it breaks, then improves
the objective with feasible single moves. ``gap_`` = (objective - bound) / objective.

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

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from terrlib.geo import distance_matrix_km


class InfeasibleRequest(ValueError):
    """The balance rules cannot all hold; the message says which and what would."""


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
        size: targets are shares of the totals in proportion to it).
    tolerance : float
        Allowed deviation of each territory's workload and potential from its target, ±.
    disruption : float
        Cost of moving an account, in units of the average account's travel cost, scaled by
        its revenue weight.
    max_moved_share : float, optional
        At most this share of accounts may change territory.
    visits_per_call, travel_speed_kmh, min_travel_minutes : float
        The coverage model's travel: share of calls made in person, speed and a floor per trip.
    candidates : int
        Nearest homes offered to each account before pricing adds any other arc.
    distances : array, optional
        Distances (accounts x territories, km) to use instead of great-circle distances.
    travel_weight : {"call_hours", "none"}
        Weight of each account's distance in the travel objective.
    balance_potential : bool
        Also keep potential within the tolerance (default True).
    """

    def __init__(
        self,
        accounts: pd.DataFrame,
        territories: pd.DataFrame,
        tolerance: float = 0.10,
        disruption: float = 1.0,
        max_moved_share: float | None = None,
        visits_per_call: float = 0.2,
        travel_speed_kmh: float = 70.0,
        min_travel_minutes: float = 10.0,
        candidates: int = 8,
        distances: np.ndarray | None = None,
        travel_weight: str = "call_hours",
        balance_potential: bool = True,
    ):
        self.accounts = accounts.reset_index(drop=True)
        self.territories = territories.reset_index(drop=True)
        self.tolerance = float(tolerance)
        self.disruption = float(disruption)
        self.max_moved_share = max_moved_share
        self.visits_per_call = visits_per_call
        self.travel_speed_kmh = travel_speed_kmh
        self.min_travel_minutes = min_travel_minutes
        self.candidates = candidates
        self.distances = distances
        self.travel_weight = travel_weight
        self.balance_potential = balance_potential

    # ------------------------------------------------------------------ data

    def _prepare(self) -> None:
        acc, ter = self.accounts, self.territories
        self.ids_ = ter["territory_id"].astype(str).to_numpy()
        index = {t: k for k, t in enumerate(self.ids_)}
        self.current_ = acc["territory_id"].astype(str).map(index).fillna(-1).astype(int).to_numpy()
        if self.distances is not None:
            self.dist_ = np.asarray(self.distances, float)
        else:
            self.dist_ = distance_matrix_km(
                acc["latitude"], acc["longitude"], ter["home_latitude"], ter["home_longitude"]
            )
        call_time = acc["call_hours"].to_numpy(float)
        calls = acc["calls"].to_numpy(float) if "calls" in acc else call_time
        one_way = np.maximum(self.dist_ / self.travel_speed_kmh * 60, self.min_travel_minutes)
        # hours if served from each home: call time plus the in-person share of calls as trips
        self.hours_ = (
            call_time[:, None] + (calls * self.visits_per_call)[:, None] * 2 * one_way / 60
        )
        self.potential_ = acc["potential"].to_numpy(float)
        share = ter["capacity"].to_numpy(float)
        self.share_ = share / share.sum()
        revenue = acc["revenue"].to_numpy(float) if "revenue" in acc else np.ones(len(acc))
        revenue = revenue / max(revenue.mean(), 1e-12)
        weight = call_time if self.travel_weight == "call_hours" else np.ones(len(acc))
        self.travel_cost_ = weight[:, None] * self.dist_
        scale = float(self.travel_cost_.min(axis=1).mean()) or 1.0
        moved = np.ones_like(self.dist_)
        rows = np.flatnonzero(self.current_ >= 0)
        moved[rows, self.current_[rows]] = 0.0
        self.move_penalty_ = self.disruption * scale * revenue[:, None] * moved
        self.cost_ = self.travel_cost_ + self.move_penalty_
        self.moved_ = moved
        self.locked_ = acc["locked"].to_numpy(bool) if "locked" in acc else np.zeros(len(acc), bool)
        # the LP works in scaled units (hours, potential and cost near 1) for HiGHS's sake
        self.h_scale_ = float(self.hours_.mean()) or 1.0
        self.p_scale_ = float(self.potential_.mean()) or 1.0
        self.c_scale_ = float(self.cost_.mean()) or 1.0

    # ------------------------------------------------------------------ LP

    def _arcs(self) -> np.ndarray:
        n, m = self.dist_.shape
        q = min(self.candidates, m)
        near = (
            np.argpartition(self.dist_, q - 1, axis=1)[:, :q]
            if q < m
            else np.tile(np.arange(m), (n, 1))
        )
        arcs = np.zeros((n, m), bool)
        arcs[np.arange(n)[:, None], near] = True
        has = self.current_ >= 0
        arcs[np.flatnonzero(has), self.current_[has]] = True
        locked = np.flatnonzero(self.locked_ & has)
        arcs[locked] = False
        arcs[locked, self.current_[locked]] = True
        return arcs

    def _lp(self, arcs: np.ndarray, tol: float, integer: bool = False, time_limit: float = 10.0):
        """Solve the LP relaxation (or, with ``integer``, the MILP) on the arcs; returns
        (result, rows, cols)."""
        n, m = arcs.shape
        rows, cols = np.nonzero(arcs)
        nv = len(rows)
        h = self.hours_[rows, cols] / self.h_scale_
        p = self.potential_[rows] / self.p_scale_
        total_p = self.potential_.sum() / self.p_scale_
        # variables: x (nv), H (total hours)
        eq = sparse.vstack(
            [
                sparse.csr_matrix((np.ones(nv), (rows, np.arange(nv))), shape=(n, nv + 1)),
                sparse.csr_matrix(
                    (np.r_[h, -1.0], (np.zeros(nv + 1, int), np.r_[np.arange(nv), nv])),
                    shape=(1, nv + 1),
                ),
            ]
        )
        load = sparse.csr_matrix((h, (cols, np.arange(nv))), shape=(m, nv))
        pot = sparse.csr_matrix((p, (cols, np.arange(nv))), shape=(m, nv))
        s = self.share_[:, None]
        blocks = [
            sparse.hstack([load, -(1 + tol) * s]),
            sparse.hstack([-load, (1 - tol) * s]),
            sparse.hstack([pot, sparse.csr_matrix((m, 1))]),
            sparse.hstack([-pot, sparse.csr_matrix((m, 1))]),
        ]
        p_tol = tol if self.balance_potential else 1e6
        b = [
            np.zeros(m),
            np.zeros(m),
            (1 + p_tol) * self.share_ * total_p,
            -(1 - p_tol) * self.share_ * total_p,
        ]
        if self.max_moved_share is not None:
            moved = self.moved_[rows, cols]
            blocks.append(sparse.csr_matrix(np.r_[moved, 0.0][None, :]))
            b.append(np.array([self.max_moved_share * n]))
        ub = sparse.vstack(blocks).tocsr()
        cost = np.r_[self.cost_[rows, cols] / self.c_scale_, 0.0]
        b_ub, a_eq, b_eq = np.concatenate(b), eq.tocsr(), np.r_[np.ones(n), 0.0]
        if integer:
            res = milp(
                cost,
                constraints=[
                    LinearConstraint(ub, -np.inf, b_ub),
                    LinearConstraint(a_eq, b_eq, b_eq),
                ],
                integrality=np.r_[np.ones(nv), 0.0],
                bounds=Bounds(0, np.r_[np.ones(nv), np.inf]),
                options={"time_limit": time_limit, "disp": False},
            )
            return res, rows, cols
        res = linprog(
            cost, A_ub=ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs-ipm"
        )
        return res, rows, cols

    def _price(self, res, arcs: np.ndarray, tol: float) -> np.ndarray:
        """Arcs outside the LP with a negative reduced cost (they could lower the bound)."""
        n, m = arcs.shape
        u = res.eqlin.marginals[:n]
        eta = res.eqlin.marginals[n]
        y = res.ineqlin.marginals
        a_up, a_lo, p_up, p_lo = (y[j * m : (j + 1) * m] for j in range(4))
        reduced = (
            self.cost_
            - u[:, None]
            - self.hours_ * (eta + a_up[None, :] - a_lo[None, :])
            - self.potential_[:, None] * (p_up - p_lo)[None, :]
        )
        if self.max_moved_share is not None:
            reduced -= self.moved_ * y[4 * m]
        reduced[self.locked_] = np.inf
        return (reduced < -1e-9) & ~arcs

    def _relaxation(self, tol: float):
        """LP relaxation with pricing; an LP infeasible on the candidate arcs is retried on
        every arc before it is called infeasible."""
        arcs = self._arcs()
        for _ in range(20):
            res, rows, cols = self._lp(arcs, tol)
            if res.status == 2 and not arcs[~self.locked_].all():
                arcs[~self.locked_] = True
                continue
            if res.status != 0:
                return res, arcs, rows, cols
            add = self._price(res, arcs, tol)
            if not add.any():
                return res, arcs, rows, cols
            arcs |= add
        return res, arcs, rows, cols

    # ------------------------------------------------------------------ solve

    def solve(self, exact: bool | None = None, time_limit: float = 10.0) -> TerritoryOptimizer:
        """Solve; sets ``assignment_``, ``objective_``, ``lower_bound_``, ``gap_``,
        ``moves_`` and ``summary_``. Returns self.

        With ``exact`` (by default when the arcs number at most 50,000) the rounded LP solution
        is then challenged by HiGHS's MILP on the same arcs for up to ``time_limit`` seconds;
        the better solution and the tighter bound are kept.

        Raises
        ------
        InfeasibleRequest
            When no assignment meets the rules, naming the rule and the tightest tolerance
            that can be met.
        """
        self._prepare()
        res, arcs, rows, cols = self._relaxation(self.tolerance)
        if res.status == 2:
            raise InfeasibleRequest(self._diagnose())
        if res.status != 0:
            raise RuntimeError(f"the LP solver stopped: {res.message}")
        self.lower_bound_ = float(res.fun) * self.c_scale_
        x = np.zeros(self.dist_.shape)
        x[rows, cols] = res.x[: len(rows)]
        self.split_accounts_ = int((x.max(axis=1) < 1 - 1e-6).sum())
        assign = x.argmax(axis=1)
        assign = self._repair(assign, arcs)
        assign = self._improve(assign, arcs)
        self.method_ = "LP relaxation, rounding and local search"
        if exact or (exact is None and arcs.sum() <= 50_000):
            assign = self._exact(assign, arcs, time_limit)
        self._finish(assign)
        return self

    def _exact(self, assign: np.ndarray, arcs: np.ndarray, time_limit: float) -> np.ndarray:
        """Run the MILP on the same arcs; keep its solution when better, and its bound when
        tighter than the LP's."""
        res, rows, cols = self._lp(arcs, self.tolerance, integer=True, time_limit=time_limit)
        bound = getattr(res, "mip_dual_bound", None)
        # the MILP's bound holds for the full problem only when no arc was left out
        if bound is not None and np.isfinite(bound) and arcs[~self.locked_].all():
            self.lower_bound_ = max(self.lower_bound_, float(bound) * self.c_scale_)
        if res.x is None:
            return assign
        x = np.zeros(self.dist_.shape)
        x[rows, cols] = res.x[: len(rows)]
        candidate = x.argmax(axis=1)
        feasible = self._violation(*self._loads(candidate)) <= 1e-9 and (
            self._moved_count(candidate) <= self._cap(len(candidate))
        )
        current_ok = self._violation(*self._loads(assign)) <= 1e-9
        if feasible and (not current_ok or self._objective(candidate) < self._objective(assign)):
            self.method_ = "MILP (HiGHS)" + (" optimal" if res.status == 0 else ", time limit")
            return candidate
        return assign

    def _loads(self, assign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, m = len(assign), len(self.ids_)
        hours = np.bincount(assign, weights=self.hours_[np.arange(n), assign], minlength=m)
        pot = np.bincount(assign, weights=self.potential_, minlength=m)
        return hours, pot

    def _violation(self, hours: np.ndarray, pot: np.ndarray) -> float:
        """Total relative breach of the workload and potential bands (0 when all hold)."""
        tol = self.tolerance
        p_tol = tol if self.balance_potential else 1e6
        h_t = self.share_ * hours.sum()
        p_t = self.share_ * pot.sum()
        over = np.maximum(hours - (1 + tol) * h_t, 0) + np.maximum((1 - tol) * h_t - hours, 0)
        over_p = np.maximum(pot - (1 + p_tol) * p_t, 0) + np.maximum((1 - p_tol) * p_t - pot, 0)
        return float(over.sum() / h_t.mean() + over_p.sum() / p_t.mean())

    def _moved_count(self, assign: np.ndarray) -> float:
        return float(self.moved_[np.arange(len(assign)), assign].sum())

    def _cap(self, n: int) -> float:
        return np.inf if self.max_moved_share is None else self.max_moved_share * n + 1e-9

    def _try(self, hours, pot, i, a, k):
        """Loads after moving account i from territory a to k."""
        h, p = hours.copy(), pot.copy()
        h[a] -= self.hours_[i, a]
        h[k] += self.hours_[i, k]
        p[a] -= self.potential_[i]
        p[k] += self.potential_[i]
        return h, p

    def _repair(self, assign: np.ndarray, arcs: np.ndarray, sweeps: int = 500) -> np.ndarray:
        """Move single accounts to cut band violations, cheapest per unit of violation first."""
        assign = assign.copy()
        n = len(assign)
        hours, pot = self._loads(assign)
        moved = self._moved_count(assign)
        for _ in range(sweeps):
            viol = self._violation(hours, pot)
            if viol <= 1e-9:
                break
            tol = self.tolerance
            h_t, p_t = self.share_ * hours.sum(), self.share_ * pot.sum()
            p_tol = tol if self.balance_potential else 1e6
            bad = (
                (hours > (1 + tol) * h_t)
                | (hours < (1 - tol) * h_t)
                | (pot > (1 + p_tol) * p_t)
                | (pot < (1 - p_tol) * p_t)
            )
            best = None
            for i in np.flatnonzero(~self.locked_):
                a = assign[i]
                for k in np.flatnonzero(arcs[i]):
                    if k == a or not (bad[a] or bad[k]):
                        continue
                    extra = self.moved_[i, k] - self.moved_[i, a]
                    if moved + extra > self._cap(n):
                        continue
                    gain = viol - self._violation(*self._try(hours, pot, i, a, k))
                    if gain <= 1e-12:
                        continue
                    score = (self.cost_[i, k] - self.cost_[i, a]) / gain
                    if best is None or score < best[0]:
                        best = (score, i, k)
            if best is None:
                break
            _, i, k = best
            hours, pot = self._try(hours, pot, i, assign[i], k)
            moved += self.moved_[i, k] - self.moved_[i, assign[i]]
            assign[i] = k
        return assign

    def _improve(self, assign: np.ndarray, arcs: np.ndarray, passes: int = 3) -> np.ndarray:
        """Feasible single moves that lower the objective, best first."""
        assign = assign.copy()
        n = len(assign)
        hours, pot = self._loads(assign)
        if self._violation(hours, pot) > 1e-9:
            return assign
        moved = self._moved_count(assign)
        for _ in range(passes):
            delta = self.cost_ - self.cost_[np.arange(n), assign][:, None]
            delta[~arcs] = np.inf
            delta[np.arange(n), assign] = np.inf
            delta[self.locked_] = np.inf
            improved = False
            for i in np.argsort(delta.min(axis=1)):
                for k in np.argsort(delta[i])[:3]:
                    if not delta[i, k] < -1e-9:
                        break
                    a = assign[i]
                    extra = self.moved_[i, k] - self.moved_[i, a]
                    if moved + extra > self._cap(n):
                        continue
                    h, p = self._try(hours, pot, i, a, k)
                    if self._violation(h, p) <= 1e-9:
                        hours, pot, moved = h, p, moved + extra
                        assign[i] = k
                        improved = True
                        break
            if not improved:
                break
        return assign

    def _objective(self, assign: np.ndarray) -> float:
        return float(self.cost_[np.arange(len(assign)), assign].sum())

    def _finish(self, assign: np.ndarray) -> None:
        n = len(assign)
        self.feasible_ = self._violation(*self._loads(assign)) <= 1e-9 and self._moved_count(
            assign
        ) <= self._cap(n)
        if not self.feasible_:
            raise InfeasibleRequest(self._diagnose())
        self.assign_idx_ = assign
        self.assignment_ = pd.Series(
            self.ids_[assign], index=self.accounts["account_id"], name="territory_id"
        )
        self.objective_ = self._objective(assign)
        self.gap_ = max(0.0, (self.objective_ - self.lower_bound_) / max(self.objective_, 1e-12))
        self.travel_ = float(self.travel_cost_[np.arange(n), assign].sum())
        cur = self.current_.copy()
        known = cur >= 0
        self.travel_before_ = float(self.travel_cost_[np.flatnonzero(known), cur[known]].sum())
        self.summary_ = self._territory_summary(assign)
        self.moves_ = self._moves(assign)

    def _territory_summary(self, assign: np.ndarray) -> pd.DataFrame:
        n = len(assign)
        rows = []
        cur = np.where(self.current_ >= 0, self.current_, assign)
        for label, a in (("before", cur), ("after", assign)):
            hours = np.bincount(a, weights=self.hours_[np.arange(n), a], minlength=len(self.ids_))
            pot = np.bincount(a, weights=self.potential_, minlength=len(self.ids_))
            count = np.bincount(a, minlength=len(self.ids_))
            rows.append(
                pd.DataFrame(
                    {
                        "territory_id": self.ids_,
                        "when": label,
                        "accounts": count,
                        "hours": hours,
                        "workload_vs_target": hours / (self.share_ * hours.sum()),
                        "potential": pot,
                        "potential_vs_target": pot / (self.share_ * pot.sum()),
                    }
                )
            )
        both = pd.concat(rows).pivot(index="territory_id", columns="when")
        both.columns = [f"{a}_{b}" for a, b in both.columns]
        return both.reset_index()

    def _moves(self, assign: np.ndarray) -> pd.DataFrame:
        moved = np.flatnonzero((self.current_ >= 0) & (assign != self.current_))
        s = self.summary_.set_index("territory_id")
        rows = []
        for i in moved:
            a, b = self.ids_[self.current_[i]], self.ids_[assign[i]]
            d0, d1 = self.dist_[i, self.current_[i]], self.dist_[i, assign[i]]
            wa0, wa1 = s.loc[a, "workload_vs_target_before"], s.loc[a, "workload_vs_target_after"]
            wb0, wb1 = s.loc[b, "workload_vs_target_before"], s.loc[b, "workload_vs_target_after"]
            if wa0 > 1 + self.tolerance:
                why = f"relieves {a} (workload {wa0:.0%} -> {wa1:.0%} of target)"
            elif wb0 < 1 - self.tolerance:
                why = f"fills {b} (workload {wb0:.0%} -> {wb1:.0%} of target)"
            elif d1 < d0:
                why = "shorter travel"
            else:
                why = "balances potential"
            rows.append(
                {
                    "account_id": self.accounts["account_id"].iloc[i],
                    "from": a,
                    "to": b,
                    "km_before": d0,
                    "km_after": d1,
                    "reason": f"{why}; travel {d0:.0f} km -> {d1:.0f} km",
                }
            )
        return pd.DataFrame(
            rows, columns=["account_id", "from", "to", "km_before", "km_after", "reason"]
        )

    # ------------------------------------------------------------------ diagnosis

    def _diagnose(self) -> str:
        """Say which rule cannot hold, and the tightest tolerance that can."""
        parts = []
        n, m = self.dist_.shape
        has = self.current_ >= 0
        locked = self.locked_ & has
        if locked.any():
            hrs = np.bincount(
                self.current_[locked],
                weights=self.hours_[np.flatnonzero(locked), self.current_[locked]],
                minlength=m,
            )
            est = self.share_ * self.hours_.min(axis=1).sum()
            worst = int(np.argmax(hrs / est))
            if hrs[worst] > (1 + self.tolerance) * est[worst]:
                parts.append(
                    f"locked accounts in {self.ids_[worst]} already need "
                    f"{hrs[worst] / est[worst]:.0%} of its workload target"
                )
        small = self.dist_.size <= 50_000

        def feasible(tol: float) -> bool:
            if not small:  # the LP's answer: the true tightest tolerance is at least this
                return self._relaxation(tol)[0].status == 0
            res, *_ = self._lp(
                np.ones_like(self.dist_, bool) | self.locked_[:, None],
                tol,
                integer=True,
                time_limit=5.0,
            )
            return res.x is not None

        lo, hi = self.tolerance, 1.0
        if not feasible(hi):
            parts.append("no tolerance up to ±100% can be met")
            return "; ".join(parts)
        for _ in range(8 if small else 12):
            mid = (lo + hi) / 2
            if feasible(mid):
                hi = mid
            else:
                lo = mid
        what = "; ".join(parts) + "; " if parts else ""
        return (
            f"the balance rules cannot all hold at ±{self.tolerance:.1%}: {what}the tightest "
            f"tolerance that can be met is about ±{hi:.1%}"
            + ("" if small else " or a little more (from the LP relaxation)")
            + (
                " with the current cap on moved accounts"
                if self.max_moved_share is not None
                else ""
            )
        )


def from_dataset(data, scores: pd.DataFrame | None = None, **options) -> TerritoryOptimizer:
    """Build the optimizer for a :class:`~terrlib.io.Dataset`: call pattern and travel from the
    plan's coverage model, potential from stage 2's scores (account revenue otherwise), targets
    in proportion to each rep's capacity, tolerance, locks and moved cap from the plan (any of
    them overridden by ``options``)."""
    from terrlib.workload import call_pattern

    plan = data.plan
    acc = data.accounts
    calls, minutes = call_pattern(plan, acc["employees"].to_numpy())
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
            "home_latitude": reps["home_latitude"],
            "home_longitude": reps["home_longitude"],
            "capacity": reps["capacity_hours"],
        }
    )
    settings = {
        "tolerance": plan.balance.tolerance,
        "max_moved_share": plan.balance.max_moved_share,
        "visits_per_call": plan.coverage.visit_share,
        "travel_speed_kmh": plan.coverage.travel_speed_kmh,
        "min_travel_minutes": plan.coverage.min_travel_minutes,
        "disruption": plan.balance.weights.disruption,
    } | options
    return TerritoryOptimizer(frame, homes, **settings)
