"""What a solved assignment means per territory and per moved account."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
