"""Stage 1, strategic alignment: balance of territories and effort against the strategy.

Examples
--------
>>> import pandas as pd
>>> round(gini(pd.Series([1, 1, 1, 1])), 3), round(gini(pd.Series([0, 0, 0, 4])), 3)
(0.0, 0.75)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from terrlib.io import Dataset
from terrlib.periods import trailing_bounds
from terrlib.results import Result
from terrlib.workload import account_workload


def gini(values: pd.Series) -> float:
    """Gini coefficient of non-negative values (0 = equal, towards 1 = concentrated)."""
    x = np.sort(np.asarray(values, float))
    if len(x) == 0 or x.sum() == 0:
        return 0.0
    n = len(x)
    return float((2 * np.arange(1, n + 1) - n - 1).dot(x) / (n * x.sum()))


def bookings(data: Dataset, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Won opportunities closed between ``start`` and ``end`` (inclusive)."""
    opps = data.opportunities
    return opps[(opps["stage"] == "won") & opps["close_date"].between(start, end)]


def territory_balance(data: Dataset, quarter: str) -> Result:
    """Accounts, market size (account revenue), bookings over the last four quarters and
    workload per territory, each as an index against the territory mean.

    The table's last rows give the spread of each measure: coefficient of variation, Gini and
    max/min; territories outside the plan's balance tolerance are counted in the headline.
    """
    start, end = trailing_bounds(quarter, 4, data.fiscal_start)
    acc = data.accounts
    work = account_workload(data)
    won = bookings(data, start, end)
    terr_of = acc.set_index("account_id")["territory_id"]
    per = (
        pd.DataFrame(
            {
                "accounts": acc.groupby("territory_id").size(),
                "market_revenue": acc.groupby("territory_id")["annual_revenue"].sum(),
                "bookings_4q": won.groupby(won["account_id"].map(terr_of))["amount"].sum(),
                "workload_hours": work.groupby("territory_id")["hours"].sum(),
            }
        )
        .reindex(data.reps["territory_id"].unique())
        .fillna(0)
    )
    index = per / per.mean()
    tol = data.plan.balance.tolerance
    outside = (index["workload_hours"] - 1).abs() > tol
    table = per.copy()
    for col in per.columns:
        table[f"{col}_index"] = index[col]
    spread = pd.DataFrame(
        {
            "coefficient of variation": per.std() / per.mean(),
            "Gini": per.apply(gini),
            "max / min": per.max() / per.min().replace(0, np.nan),
        }
    ).T
    headline = (
        f"Workload per territory varies with a coefficient of variation of "
        f"{spread.loc['coefficient of variation', 'workload_hours']:.0%} and a max/min of "
        f"{spread.loc['max / min', 'workload_hours']:.1f}x; {int(outside.sum())} of {len(per)} "
        f"territories fall outside the plan's ±{tol:.0%} workload tolerance. Account counts "
        f"differ far more (Gini {spread.loc['Gini', 'accounts']:.2f}, dense metros against "
        f"rural areas) and bookings of the last four quarters have a Gini of "
        f"{spread.loc['Gini', 'bookings_4q']:.2f}."
    )
    result = Result(
        "Territory balance",
        headline,
        table.reset_index(names="territory_id"),
        formats={
            "market_revenue": "{:,.0f}",
            "bookings_4q": "{:,.0f}",
            "workload_hours": "{:,.0f}",
            **{f"{c}_index": "{:.2f}" for c in per.columns},
        },
        notes="index: the territory's value divided by the mean over territories (1.00 = "
        "average). market_revenue: sum of the accounts' own annual revenue, a proxy for "
        "market size until stage 2 estimates potential.",
    )
    result.spread = spread
    result.outside = per.index[outside].tolist()
    return result


def effort_vs_strategy(data: Dataset, quarter: str) -> Result:
    """Share of rep time (activity minutes, last four quarters) on the strategy's priority
    industries against their share of the market (account revenue), per rep."""
    start, end = trailing_bounds(quarter, 4, data.fiscal_start)
    prio = set(data.plan.strategy.priority_industries)
    acc = data.accounts.set_index("account_id")
    acts = data.activities[data.activities["activity_date"].between(start, end)]
    acts = acts.assign(priority=acts["account_id"].map(acc["industry"]).isin(prio))
    acc_prio = acc["industry"].isin(prio)
    reps = data.reps.set_index("rep_id")
    minutes = acts.groupby("rep_id")["duration_minutes"].sum()
    prio_minutes = acts[acts["priority"]].groupby("rep_id")["duration_minutes"].sum()
    market = acc.groupby("territory_id")["annual_revenue"].sum()
    prio_market = acc[acc_prio].groupby("territory_id")["annual_revenue"].sum()
    table = pd.DataFrame(
        {
            "rep_name": reps["rep_name"],
            "territory_id": reps["territory_id"],
            "effort_share": (prio_minutes / minutes).reindex(reps.index),
            "market_share": (prio_market / market).reindex(reps["territory_id"]).to_numpy(),
        }
    )
    table["gap"] = table["effort_share"] - table["market_share"]
    overall_effort = acts.loc[acts["priority"], "duration_minutes"].sum() / max(
        acts["duration_minutes"].sum(), 1
    )
    overall_market = acc.loc[acc_prio, "annual_revenue"].sum() / acc["annual_revenue"].sum()
    worst = table.nsmallest(3, "gap")
    gaps = ", ".join(f"{r.rep_name} ({r.gap:+.0%})" for r in worst.itertuples())
    headline = (
        f"Priority industries ({', '.join(sorted(prio)) or 'none set'}) hold "
        f"{overall_market:.0%} of the market but get {overall_effort:.0%} of rep time. "
        f"The largest gaps: {gaps}."
    )
    return Result(
        "Rep time against the strategy's priority industries",
        headline,
        table.sort_values("gap").reset_index(names="rep_id"),
        formats={"effort_share": "{:.0%}", "market_share": "{:.0%}", "gap": "{:+.0%}"},
        notes="effort_share: priority-industry share of activity minutes; "
        "market_share: priority-industry share of account revenue in the "
        "territory.",
    )
