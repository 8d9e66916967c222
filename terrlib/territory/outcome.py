"""What a solved assignment means per territory and per moved account."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import Delaunay, QhullError

from terrlib.territory import tidy
from terrlib.territory.problem import TerritoryProblem


def territory_summary(problem: TerritoryProblem, assign: np.ndarray) -> pd.DataFrame:
    """Per territory, before (today, with unassigned accounts where the plan puts them) and
    after: accounts, hours, workload against target, potential and its share of target, and
    kilometres of travel."""
    p, m = problem, problem.m
    cur = np.where(p.current >= 0, p.current, assign)
    out = {"territory_id": p.ids}
    for label, a in (("before", cur), ("after", assign)):
        v = p.arc_values(np.arange(p.n), a)
        hours = np.bincount(a, weights=v["hours"], minlength=m)
        pot = np.bincount(a, weights=p.potential, minlength=m)
        out[f"accounts_{label}"] = np.bincount(a, minlength=m)
        out[f"hours_{label}"] = hours
        h_t, p_t = p.targets(hours.sum(), pot.sum())
        out[f"workload_vs_target_{label}"] = hours / h_t
        out[f"potential_{label}"] = pot
        out[f"potential_vs_target_{label}"] = pot / p_t
        out[f"travel_km_{label}"] = np.bincount(a, weights=v["distance"], minlength=m)
    return pd.DataFrame(out)


def moved_accounts(
    problem: TerritoryProblem, assign: np.ndarray, summary: pd.DataFrame
) -> pd.DataFrame:
    """One row per moved account with the imbalance it relieves and its travel change."""
    p = problem
    i = np.flatnonzero((p.current >= 0) & (assign != p.current))
    a, b = p.current[i], assign[i]
    d0, d1 = p.dist(i, a), p.dist(i, b)
    s = summary
    wa0 = s["workload_vs_target_before"].to_numpy()[a]
    wa1 = s["workload_vs_target_after"].to_numpy()[a]
    wb0 = s["workload_vs_target_before"].to_numpy()[b]
    wb1 = s["workload_vs_target_after"].to_numpy()[b]
    pa0 = s["potential_vs_target_before"].to_numpy()[a]
    pb0 = s["potential_vs_target_before"].to_numpy()[b]
    ia, ib = p.ids[a], p.ids[b]
    kind = np.select(
        [
            wa0 > 1 + p.tolerance,
            wb0 < 1 - p.tolerance,
            (pa0 > 1 + p.p_tol) | (pb0 < 1 - p.p_tol),
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
            "account_id": p.accounts["account_id"].to_numpy()[i],
            "from": ia,
            "to": ib,
            "km_before": d0,
            "km_after": d1,
            "reason": np.array(reason, dtype=object),
        }
    )


def _plane(lat: np.ndarray, lon: np.ndarray, lat0: float) -> np.ndarray:
    """Degrees to a local plane (km east and north of the equator and meridian, at the
    plan's middle latitude): good enough to tell which territory's outline holds a point."""
    k = np.pi / 180 * 6371.0
    return np.column_stack([lon * np.cos(np.radians(lat0)) * k, lat * k])


def compactness(
    problem: TerritoryProblem,
    assign: np.ndarray,
    neighbours: int = 8,
    near: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per territory of ``assign``: its accounts, the share of them whose nearest rep home
    is its own (``nearest_share``), its farthest account (``farthest_km``, as the plan
    measures distance) and ``overlap``, the share of its accounts that lie inside the
    outline (convex hull) of one of its ``neighbours`` nearest territories, and
    ``mixed_in``, the share of its accounts set among another territory's (most of their
    six nearest accounts are that territory's: :func:`terrlib.territory.tidy.enclaves`).
    A compact, non-overlapping territory has a high first and low last two. The outline
    is swayed by a few far accounts (one account 500 km out puts a neighbour's whole city
    inside it); ``mixed_in`` is what a rep meets on the road: a colleague's accounts among
    their own. Without coordinates only the first two are given (the others are NaN).
    ``near``, each account's six nearest (:func:`terrlib.territory.tidy.neighbours`), is
    found here when not given: pass it to compare several plans of one problem."""
    p, m = problem, problem.m
    rows = np.arange(p.n)
    near_rows, near_cols = p.nearest(1)
    nearest = np.empty(p.n, int)
    nearest[near_rows] = near_cols
    count = np.bincount(assign, minlength=m)
    own = np.bincount(assign, weights=(nearest == assign).astype(float), minlength=m)
    far = np.zeros(m)
    np.maximum.at(far, assign, p.dist(rows, assign))
    overlap, mixed = np.full(m, np.nan), np.full(m, np.nan)
    near = tidy.neighbours(p) if near is None else near
    if near is not None:
        inside = tidy.enclaves(assign, near).astype(float)
        mixed = np.bincount(assign, weights=inside, minlength=m) / np.maximum(count, 1)
    if p.lat is not None:
        xy = _plane(p.lat, p.lon, float(np.median(p.lat)))
        hulls: dict[int, Delaunay | None] = {}
        for k in range(m):
            pts = xy[assign == k]
            try:
                hulls[k] = Delaunay(pts) if len(pts) >= 4 else None
            except QhullError:  # all in a line, or on one spot
                hulls[k] = None
        peers = p.near_territories(neighbours + 1)
        for k in range(m):
            mine = xy[assign == k]
            if not len(mine):
                continue
            inside = np.zeros(len(mine), bool)
            for j in peers[k]:
                if j != k and hulls.get(j) is not None:
                    inside |= hulls[j].find_simplex(mine) >= 0
            overlap[k] = inside.mean()
    return pd.DataFrame(
        {
            "territory_id": p.ids,
            "accounts": count,
            "nearest_share": own / np.maximum(count, 1),
            "farthest_km": far,
            "overlap": overlap,
            "mixed_in": mixed,
        }
    )


def nearest_share(table: pd.DataFrame, column: str = "nearest_share") -> float:
    """The share of all accounts whose nearest rep home is their territory's, from a
    :func:`compactness` table (its territories' shares weighted by their accounts); with
    ``column="mixed_in"``, the share of all accounts set among another territory's."""
    return float((table[column] * table["accounts"]).sum() / max(table["accounts"].sum(), 1))
