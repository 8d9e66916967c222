"""Territories drawn from scratch: the same accounts and reps, with each rep based wherever
the territory's travel is least instead of at today's home. This is the free-centre engine:
the report's "drawn from scratch" view and the capacitated p-median benchmark
(``benchmarks/optimizer_pmedian.py``) run the same :func:`from_scratch`.

Sales leaders ask what today's home locations cost, and where a new hire would best be
based. :func:`from_scratch` answers with location-allocation (Cooper's alternating method):
solve the balanced assignment with the bases fixed
(:class:`~terrlib.optimize.TerritoryOptimizer`,
with its certified gap), move each base to the member account from which the territory's
call-weighted travel is least, and repeat while travel falls. Both steps can only lower
travel, so it stops; the bases it reaches are a good choice, not a proven best one: the gap
it reports is the assignment's, given those bases.

Examples
--------
>>> lat, lon = np.array([40.0, 40.0, 40.1]), np.array([-75.0, -75.1, -75.0])
>>> int(weighted_medoid(lat, lon, np.array([1.0, 1.0, 5.0])))
2
>>> plane = Points(np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0]]), "euclidean")
>>> plane.distance(np.array([0]), np.array([2])).tolist()
[5.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from terrlib.geo import haversine_km
from terrlib.territory.estimator import TerritoryOptimizer
from terrlib.territory.problem import InfeasibleRequest
from terrlib.territory.unbalanced import solve_balancing

METRICS = ("haversine", "euclidean", "euclidean_floor")


@dataclass(frozen=True)
class Points:
    """Where the accounts are, and how far apart: ``haversine`` (``coords`` are latitude and
    longitude in degrees; great-circle km, what the product uses), ``euclidean`` or
    ``euclidean_floor`` (plane coordinates; the latter rounds down, as OR-Library does)."""

    coords: np.ndarray
    metric: str = "haversine"

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, not {self.metric!r}")

    def distance(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Distance between points ``i`` and ``j`` (index arrays, broadcast)."""
        a, b = self.coords[i], self.coords[j]
        if self.metric == "haversine":
            return haversine_km(a[..., 0], a[..., 1], b[..., 0], b[..., 1])
        d = np.sqrt(((a - b) ** 2).sum(-1))
        return np.floor(d + 1e-9) if self.metric == "euclidean_floor" else d

    def to(self, bases: np.ndarray) -> np.ndarray:
        """Distances from every point to each of the points ``bases`` (n x len(bases))."""
        return self.distance(np.arange(len(self.coords))[:, None], np.asarray(bases)[None, :])

    def medoid(self, members: np.ndarray, weight: np.ndarray) -> int:
        """The member from which the weighted distance to all the members is least (ties:
        the first); ``weight`` is per member."""
        best, best_cost = int(members[0]), np.inf
        for start in range(0, len(members), 500):  # at most 500 x n distances at a time
            cand = members[start : start + 500]
            cost = self.distance(cand[:, None], members[None, :]) @ weight
            at = int(np.argmin(cost))
            if cost[at] < best_cost:
                best, best_cost = int(cand[at]), float(cost[at])
        return best


def weighted_medoid(lat: np.ndarray, lon: np.ndarray, weight: np.ndarray) -> int:
    """Position of the point from which the weighted great-circle distance to all the
    points is least (ties: the first).

    Parameters
    ----------
    lat, lon : array
        Degrees.
    weight : array
        Non-negative weight of each point.
    """
    points = Points(np.column_stack([np.asarray(lat, float), np.asarray(lon, float)]))
    return points.medoid(np.arange(len(points.coords)), np.asarray(weight, float))


@dataclass
class ScratchPlan:
    """Territories drawn from scratch (:func:`from_scratch`).

    Attributes
    ----------
    optimizer : TerritoryOptimizer
        The balanced assignment with the reps at ``bases`` (the round with least travel),
        solved as the what-if panel does (``solve(quick=True)``); its ``gap_`` is certified
        for those bases.
    bases : DataFrame
        ``territory_id``, ``rep_name`` when known, ``home_latitude``, ``home_longitude``
        (the base) and ``base_account_id`` (the account it sits at).
    rounds : DataFrame
        Travel and gap after each assignment, from today's homes (round 0) on.
    """

    optimizer: TerritoryOptimizer
    bases: pd.DataFrame
    rounds: pd.DataFrame


def from_scratch(
    opt: TerritoryOptimizer,
    max_rounds: int = 12,
    min_saving: float = 0.005,
    points: Points | None = None,
    start: np.ndarray | None = None,
    quick: bool = True,
) -> ScratchPlan:
    """The accounts of ``opt`` drawn again into its territories, each rep based wherever
    the territory's call-weighted travel is least.

    The request keeps ``opt``'s reps (and their capacities), tolerances and coverage
    model; nothing is locked, no account has a current owner to stay with (no disruption
    cost, no cap on moves; the request's reach and regions hold, the reach fixed at the
    request's), and bases may sit at any account.

    Each round solves the balanced assignment quickly (``solve(quick=True)``: the first
    plan that meets every band, with its certified gap), then moves every base to the
    member account from which its territory's travel is least (:meth:`Points.medoid`). It
    starts from today's homes, which on the demo company gave 37% less travel than starting
    from k-means centres of the accounts, and stops when a round saves less than
    ``min_saving``; the round with least travel is returned. Bases that cannot carry the
    bands (their travel hours) end the search, keeping the last plan that could.

    Parameters
    ----------
    opt : TerritoryOptimizer
        The request. It need not be solved. Without ``points`` it has account and rep-home
        coordinates, and the bases are rep homes; with ``points`` its distances are set
        each round from the bases.
    max_rounds : int
        Assignments after the first (each followed by moving the bases).
    min_saving : float
        Stop when a round lowers travel by less than this share.
    points : Points, optional
        The accounts' positions and metric, when distances are not great-circle km from
        coordinates in ``opt`` (a planar benchmark instance).
    start : array of int, optional
        With ``points``: the accounts the first round's bases sit at, one per territory.
    quick : bool
        Solve each round's assignment quickly (the first plan that keeps every band);
        ``False`` polishes it with MILPs as the proposal does (slower, less travel).

    Returns
    -------
    ScratchPlan
    """
    if points is None and opt.distances is not None:
        raise ValueError("planning from scratch needs account coordinates, not distances")
    if points is not None and (start is None or len(start) != len(opt.territories)):
        raise ValueError("with points, start gives one account per territory")
    acc = opt.accounts.drop(columns=["locked"], errors="ignore").reset_index(drop=True)
    ter = opt.territories.reset_index(drop=True).copy()
    ter["base_account_id"] = pd.NA
    bases = None if points is None else np.asarray(start, int)
    if points is None:
        points = Points(acc[["latitude", "longitude"]].to_numpy(float))
    reach = opt.problem().reach if opt.reach_km is None else opt.reach_km
    request = opt.with_params(
        accounts=acc, disruption=0.0, max_moved_share=None, reach_km=reach, territory_tolerance=None
    )
    best, history, last = None, [], opt
    for k in range(max_rounds + 1):
        planar = {} if bases is None else {"distances": points.to(bases)}
        trial = request.with_params(territories=ter.copy(), **planar).warm_from(last)
        try:  # territories these bases cannot balance within reach are held where they can be
            # the LP's roundings alone (no MILP, so a round takes seconds); the first round
            # is solved in full when they find nothing
            try:
                solved = solve_balancing(trial, quick, explain=False, rounding_only=True)
            except InfeasibleRequest:
                if best is not None:
                    raise
                solved = solve_balancing(trial, quick, explain=False)
            trial = last = solved
        except InfeasibleRequest:
            if best is None and hasattr(opt, "assign_idx_"):
                trial = opt  # today's homes cannot be solved unlocked: start from the proposal
            elif best is None:  # the request itself cannot be met, whatever the bases
                raise
            else:
                break  # these bases cannot carry the bands (their travel hours): keep the last
        history.append({"round": k, "travel": trial.travel_, "gap": trial.gap_})
        if best is not None and trial.travel_ > best.travel_ * (1 - min_saving):
            if trial.travel_ < best.travel_:
                best = trial
            break
        best = trial
        _move_bases(best, points, ter, acc, bases)
    keep = ["territory_id", "rep_name", "home_latitude", "home_longitude", "base_account_id"]
    found = best.territories.reindex(columns=[c for c in keep if c in best.territories])
    return ScratchPlan(best, found, pd.DataFrame(history))


def _move_bases(best, points: Points, ter: pd.DataFrame, acc: pd.DataFrame, bases) -> None:
    """Every base to its territory's medoid under ``best``: into ``ter`` (its home and base
    account) and, for planar points, into ``bases``."""
    weight = best.problem_.distance_weight
    for t in range(len(ter)):
        members = np.flatnonzero(best.assign_idx_ == t)
        if not len(members):
            continue
        at = points.medoid(members, weight[members])
        if bases is None:
            ter.loc[t, ["home_latitude", "home_longitude"]] = points.coords[at]
        else:
            bases[t] = at
        ter.loc[t, "base_account_id"] = acc["account_id"].iloc[at]
