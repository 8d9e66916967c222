"""Stage 1, strategic alignment: do territories and rep time point where the strategy says,
and is any territory over- or under-served?

Measures
--------
* strategic fit of an account: the mean of its industry's and its size band's priority weights
  in the plan (0 when not a priority, 1 for a top priority);
* balance of territories: share of total, index against the mean, coefficient of variation,
  Gini and max/min for accounts, potential (or market revenue), bookings and workload;
* served-ness: workload demand against rep capacity (under-served when the coverage model
  asks more hours than the rep can give, over-served when it asks well under them), and, as a
  separate finding, the share of top-tier accounts touched in the quarter;
* effort against strategy: share of activity minutes on priority industries against their
  share of potential; the effort index is the ratio of the two (1 = time in proportion to
  potential), and a rep is off strategy when the index falls well below the company's own;
* a verdict that lists what needs realignment, from the plan's thresholds.

Examples
--------
>>> import pandas as pd
>>> round(gini(pd.Series([1, 1, 1, 1])), 3), round(gini(pd.Series([0, 0, 0, 4])), 3)
(0.0, 0.75)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from terrlib.inputs.dataset import Dataset
from terrlib.periods import quarter_bounds, trailing_bounds
from terrlib.results import InsufficientData, Result, missing
from terrlib.stages.measures import (
    account_workload,
    bookings,
    furthest_off_strategy,
    size_bands,
    strategic_fit,
    territory_workload,
)


def gini(values: pd.Series) -> float:
    """Gini coefficient of non-negative values (0 = equal, towards 1 = concentrated)."""
    x = np.sort(np.asarray(values, float))
    if len(x) == 0 or x.sum() == 0:
        return 0.0
    n = len(x)
    return float((2 * np.arange(1, n + 1) - n - 1).dot(x) / (n * x.sum()))


def _market(data: Dataset, scores: pd.DataFrame | None) -> tuple[pd.Series, str]:
    """Potential per account when stage 2's scores are given, else the accounts' revenue."""
    if scores is not None and "potential" in scores:
        pot = scores.set_index("account_id")["potential"]
        return pot.reindex(data.accounts["account_id"]).fillna(0.0), "potential"
    return data.accounts.set_index("account_id")["annual_revenue"], "market_revenue"


def _needs_territories(data: Dataset) -> None:
    """Today's territories are measured only when accounts have one (not in a green field)."""
    if data.accounts["territory_id"].notna().sum() == 0:
        raise InsufficientData(
            "accounts with a territory today",
            f"none of the {len(data.accounts):,} accounts has one (a green-field plan)",
            "Stage 4 proposes territories from scratch; this section measures them once they "
            "are in the CRM.",
        )


def unaligned_sentence(data: Dataset) -> str:
    """A sentence on accounts without a territory yet, or an empty string."""
    n = int(data.accounts["territory_id"].isna().sum())
    if not n:
        return ""
    return (
        f" {n:,} of {len(data.accounts):,} accounts have no territory yet and are left out of "
        "today's figures (stage 4 assigns them)."
    )


def territory_balance(
    data: Dataset,
    quarter: str,
    scores: pd.DataFrame | None = None,
    tiers: pd.DataFrame | None = None,
) -> Result:
    """Accounts, potential (or market revenue), bookings over the last four quarters and
    workload per territory: values, shares of the total and indices against the mean.
    Workload follows stage 3's ICP ``tiers`` when given, as in stages 4 and 5.

    ``result.spread`` gives each measure's coefficient of variation, Gini and max/min;
    ``result.outside`` the territories whose workload is outside the plan's tolerance.
    """
    _needs_territories(data)
    start, end = trailing_bounds(quarter, 4, data.fiscal_start)
    acc = data.accounts
    terr_of = acc.set_index("account_id")["territory_id"]
    market, market_name = _market(data, scores)
    work = account_workload(data, tiers)
    won = bookings(data, start, end)
    per = pd.DataFrame(
        {
            "accounts": acc.groupby("territory_id").size(),
            market_name: market.groupby(terr_of.reindex(market.index).to_numpy()).sum(),
            "bookings_4q": won.groupby(won["account_id"].map(terr_of))["amount"].sum(),
            "workload_hours": work.groupby("territory_id")["hours"].sum(),
        }
    )
    per = per.reindex(data.reps["territory_id"].unique()).fillna(0)
    index = per / per.mean()
    tol = data.plan.balance.tolerance
    outside = (index["workload_hours"] - 1).abs() > tol
    table = per.copy()
    for col in per.columns:
        table[f"{col}_share"] = per[col] / per[col].sum()
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
        f"territories fall outside the plan's ±{tol:.0%} workload tolerance. "
        f"{market_name.replace('_', ' ').capitalize()} is spread with a Gini of "
        f"{spread.loc['Gini', market_name]:.2f} and bookings of the last four quarters with "
        f"{spread.loc['Gini', 'bookings_4q']:.2f}."
    )
    formats = {c: "{:,.0f}" for c in per.columns if c != "accounts"}
    formats |= {f"{c}_share": "{:.1%}" for c in per.columns}
    formats |= {f"{c}_index": "{:.2f}" for c in per.columns}
    result = Result(
        "Territory balance",
        headline,
        # the most loaded first, so a long table's first and last rows are its extremes
        table.sort_values("workload_hours_index", ascending=False, kind="stable").reset_index(
            names="territory_id"
        ),
        formats=formats,
        notes="share: the territory's part of the company total; index: its value divided by "
        "the mean over territories (1.00 = average). potential: stage 2's estimate of what the "
        "accounts could spend in a year; without it (stage 2 not run), market revenue: the "
        "accounts' own annual revenue.",
        download="territory_balance.csv",
    )
    result.spread = spread
    result.outside = per.index[outside].tolist()
    return result


def top_tier(data: Dataset, scores: pd.DataFrame | None = None) -> pd.Series:
    """Boolean per account (indexed by account_id): the top ``thresholds.top_tier_share`` of
    accounts by potential, or the largest size band when potential is not available."""
    acc = data.accounts.set_index("account_id")
    if scores is not None and "potential" in scores:
        pot = scores.set_index("account_id")["potential"].reindex(acc.index)
        cut = pot.quantile(1 - data.plan.thresholds.top_tier_share)
        return (pot >= cut).rename("top_tier")
    largest = data.plan.segments.size_bands[0].name
    return (size_bands(data.plan, acc["employees"]) == largest).rename("top_tier")


def servedness(
    data: Dataset,
    quarter: str,
    scores: pd.DataFrame | None = None,
    tiers: pd.DataFrame | None = None,
) -> Result:
    """Is each territory served as the coverage model asks? Demand follows stage 3's ICP
    ``tiers`` when given (:func:`~terrlib.stages.measures.territory_workload`), the same hours
    as stage 4's workload table, so both stages give each territory one utilization.

    ``status`` compares demand (the coverage model's hours) with the rep's capacity only:
    under-served above ``thresholds.over_utilization`` of capacity (the rep cannot cover the
    territory), over-served below ``thresholds.under_utilization`` (the rep has hours to
    spare), served between. A territory with spare hours is therefore never under-served.
    ``top_short`` is a separate finding: fewer than ``thresholds.top_account_coverage`` of the
    territory's top-tier accounts touched in the quarter (missing without activity data). A
    rep with hours to spare who leaves top accounts untouched has a call-plan problem, not a
    capacity one. The evidence also gives conversion against the company.
    """
    _needs_territories(data)
    th = data.plan.thresholds
    q_start, q_end = quarter_bounds(quarter, data.fiscal_start)
    start, _ = trailing_bounds(quarter, 4, data.fiscal_start)
    load = territory_workload(data, tiers).table.set_index("territory_id")
    top = top_tier(data, scores)
    acc = data.accounts.set_index("account_id")
    acts = data.activities[data.activities["activity_date"].between(q_start, q_end)]
    touched = acc.index.isin(acts["account_id"])
    tops = pd.DataFrame({"territory_id": acc["territory_id"], "top": top, "touched": touched})
    tops = tops[tops["top"]]
    top_n = tops.groupby("territory_id").size()
    top_cov = tops.groupby("territory_id")["touched"].mean()
    no_activity = data.activities.empty
    if no_activity:  # who was touched is not known: no territory is judged on it
        top_cov = top_cov * np.nan
    opps = data.opportunities
    decided = opps[opps["stage"].isin(["won", "lost"]) & opps["close_date"].between(start, q_end)]
    decided = decided.assign(territory_id=decided["account_id"].map(acc["territory_id"]))
    win = decided["stage"].eq("won").groupby(decided["territory_id"]).mean()
    company_win = decided["stage"].eq("won").mean()
    table = load[["region", "rep_name", "hours", "capacity", "utilization"]].copy()
    table["top_accounts"] = top_n.reindex(table.index).fillna(0).astype(int)
    table["top_touched"] = top_cov.reindex(table.index)
    table["win_rate_4q"] = win.reindex(table.index)
    under = table["utilization"] > th.over_utilization
    over = table["utilization"] < th.under_utilization
    table["status"] = np.select([under, over], ["under-served", "over-served"], "served")
    table["top_short"] = table["top_touched"] < th.top_account_coverage  # False when unknown
    table["evidence"] = [_evidence(row, th, company_win) for row in table.itertuples()]
    n_under, n_over = int(under.sum()), int(over.sum())
    n_short, n_spare = int(table["top_short"].sum()), int((table["top_short"] & over).sum())
    one = n_short == 1
    headline = (
        f"{n_under} of {len(table)} territories are under-served (demand above "
        f"{th.over_utilization:.0%} of the rep's capacity) and {n_over} over-served (demand "
        f"below {th.under_utilization:.0%} of capacity). "
        + (
            "There is no activity data, so coverage of top accounts is not judged."
            if no_activity
            else f"Separately, {n_short} {'territory' if one else 'territories'} touched fewer "
            f"than {th.top_account_coverage:.0%} of {'its' if one else 'their'} top-tier "
            f"accounts in {quarter}"
            + (f" ({n_spare} of them over-served, so not for want of hours)" if n_spare else "")
            + f"; company-wide {tops['touched'].mean():.0%} of top-tier accounts were touched."
        )
    )
    order = {"under-served": 0, "over-served": 1, "served": 2}
    table = table.reset_index().sort_values(
        ["status", "utilization"], key=lambda s: s.map(order) if s.name == "status" else -s
    )
    return Result(
        "Served-ness: demand against capacity and coverage of top accounts",
        headline,
        table.reset_index(drop=True),
        formats={
            "hours": "{:,.0f}",
            "capacity": "{:,.0f}",
            "utilization": "{:.0%}",
            "top_touched": "{:.0%}",
            "win_rate_4q": "{:.0%}",
        },
        notes="status: demand against capacity only (under-served above "
        f"{th.over_utilization:.0%}, over-served below {th.under_utilization:.0%}); top-tier "
        "accounts: the top share of accounts by potential set in the plan; top_touched: "
        "share of them with at least one activity in "
        f"the quarter; top_short: under {th.top_account_coverage:.0%} of them touched, a "
        "separate finding from status; win_rate_4q: won / (won + lost) over the last four "
        "quarters.",
        download="territory_servedness.csv",
    )


def _evidence(row, th, company_win: float) -> str:
    parts = [f"demand {row.utilization:.0%} of capacity"]
    if pd.notna(row.top_touched):
        parts.append(f"{row.top_touched:.0%} of {row.top_accounts} top accounts touched")
    if pd.notna(row.win_rate_4q):
        parts.append(f"win rate {row.win_rate_4q:.0%} (company {company_win:.0%})")
    return "; ".join(parts)


def effort_vs_strategy(data: Dataset, quarter: str, scores: pd.DataFrame | None = None) -> Result:
    """Share of rep time (activity minutes, last four quarters) on the strategy's priority
    industries against their share of the territory's potential (or market revenue), per rep.

    ``result.by_territory`` holds the same per territory, and ``result.fit`` the company's
    time-weighted strategic fit against its potential-weighted fit.
    """
    start, end = trailing_bounds(quarter, 4, data.fiscal_start)
    prio = set(data.plan.strategy.priority_industries)
    if data.activities["activity_date"].between(start, end).sum() == 0:
        raise InsufficientData(
            f"activities (calls, meetings, visits, emails) in the four quarters to {quarter}",
            "none",
            "Export activities (in Salesforce, Tasks and Events) to see where rep time goes.",
        )
    acc = data.accounts.set_index("account_id")
    market, market_name = _market(data, scores)
    acts = data.activities[data.activities["activity_date"].between(start, end)]
    acts = acts.assign(
        priority=acts["account_id"].map(acc["industry"]).isin(prio),
        territory_id=acts["account_id"].map(acc["territory_id"]),
    )
    acc_prio = acc["industry"].isin(prio)
    if not acc_prio.any():
        return _no_strategy(data, prio)

    def shares(key: str, market_key: pd.Series) -> pd.DataFrame:
        minutes = acts.groupby(key)["duration_minutes"].sum()
        prio_minutes = acts[acts["priority"]].groupby(key)["duration_minutes"].sum()
        total = market.groupby(market_key.to_numpy()).sum()
        prio_total = market[acc_prio].groupby(market_key[acc_prio].to_numpy()).sum()
        return pd.DataFrame(
            {
                "effort_share": prio_minutes.reindex(minutes.index).fillna(0) / minutes,
                "market_share": prio_total / total,
            }
        )

    reps = data.reps.set_index("rep_id")
    by_terr = shares("territory_id", acc["territory_id"])
    table = pd.DataFrame({"rep_name": reps["rep_name"], "territory_id": reps["territory_id"]})
    rep_effort = shares("rep_id", acc["territory_id"])["effort_share"]
    table["effort_share"] = rep_effort.reindex(table.index)
    table["market_share"] = by_terr["market_share"].reindex(table["territory_id"]).to_numpy()
    overall_effort = acts.loc[acts["priority"], "duration_minutes"].sum() / max(
        acts["duration_minutes"].sum(), 1
    )
    overall_market = market[acc_prio].sum() / market.sum()
    company_index = overall_effort / overall_market
    for frame in (table, by_terr):
        frame["gap"] = frame["effort_share"] - frame["market_share"]
        frame["effort_index"] = frame["effort_share"] / frame["market_share"]
        frame["vs_company"] = frame["effort_index"] / company_index
    fit = strategic_fit(data.accounts, data.plan).set_axis(acc.index)
    minutes_by_acc = acts.groupby("account_id")["duration_minutes"].sum()
    time_fit = (fit.reindex(minutes_by_acc.index) * minutes_by_acc).sum() / minutes_by_acc.sum()
    market_fit = (fit * market).sum() / market.sum()
    worst = table.nsmallest(3, "effort_index")
    gaps = ", ".join(f"{r.rep_name} ({r.effort_index:.2f})" for r in worst.itertuples())
    headline = (
        f"Priority industries ({', '.join(sorted(prio)) or 'none set'}) hold "
        f"{overall_market:.0%} of the {market_name.replace('_', ' ')} but get "
        f"{overall_effort:.0%} of rep time; the average strategic fit of rep time is "
        f"{time_fit:.2f} against {market_fit:.2f} for the market. The company's effort index "
        f"is {company_index:.2f} (1 = time in proportion to potential); the lowest: {gaps}."
    )
    result = Result(
        "Rep time against the strategy's priority industries",
        headline,
        table.sort_values("effort_index").reset_index(names="rep_id"),
        formats={
            "effort_share": "{:.0%}",
            "market_share": "{:.0%}",
            "gap": "{:+.0%}",
            "effort_index": "{:.2f}",
            "vs_company": "{:.2f}",
        },
        notes="effort_share: priority-industry share of the rep's activity minutes over the last "
        "four quarters; market_share: priority-industry share of the territory's potential; "
        "effort_index: effort_share / market_share; vs_company: the index against the "
        "company's; strategic fit: mean of the plan's industry and size-band priority weights "
        "(0 to 1).",
        download="effort_vs_strategy.csv",
    )
    result.by_territory = by_terr.reset_index(names="territory_id")
    result.fit = {
        "time": float(time_fit),
        "market": float(market_fit),
        "effort_share": float(overall_effort),
        "market_share": float(overall_market),
        "effort_index": float(company_index),
    }
    return result


def _no_strategy(data: Dataset, prio: set[str]) -> Result:
    """The effort result when the plan names no priority industry that the accounts have:
    there is nothing to measure rep time against, and no rep is called off strategy."""
    why = (
        "The plan names no priority industries"
        if not prio
        else f"No account is in the plan's priority industries ({', '.join(sorted(prio))})"
    )
    result = Result(
        "Rep time against the strategy's priority industries",
        f"{why}, so rep time is not compared with a strategy and no rep is called off "
        "strategy. Name priority industries under strategy.priority_industries in the plan "
        "to see this section.",
        pd.DataFrame(columns=["rep_id", "rep_name", "territory_id"]),
    )
    result.by_territory = pd.DataFrame(columns=["territory_id", "vs_company"])
    result.fit = None
    return result


ACTIONS = {
    "understaffed": "move accounts to neighbours or add capacity",
    "top accounts untouched": "re-prioritise call plans toward top-tier accounts",
    "overstaffed": "take accounts from overloaded neighbours",
    "workload outside tolerance": "rebalance in the stage 4 optimizer",
    "effort off strategy": "coach toward priority industries",
}


def realignment_verdict(data: Dataset, balance: Result, served: Result, effort: Result) -> Result:
    """What the data says needs realignment, territory by territory, from the plan's
    thresholds (utilization, top-account coverage, workload tolerance, effort gap)."""
    if missing(balance, served):
        raise InsufficientData(
            "today's territory balance and served-ness", balance.has or served.has
        )
    th = data.plan.thresholds
    s = served.table.set_index("territory_id")
    b = balance.table.set_index("territory_id")
    e = (
        pd.DataFrame(columns=["vs_company"])
        if missing(effort)
        else effort.by_territory.set_index("territory_id")
    )
    rows = []
    for terr in s.index:
        reasons = []
        if s.loc[terr, "utilization"] > th.over_utilization:
            reasons.append("understaffed")
        elif s.loc[terr, "utilization"] < th.under_utilization:
            reasons.append("overstaffed")
        if s.loc[terr, "top_touched"] < th.top_account_coverage:
            reasons.append("top accounts untouched")
        if terr in balance.outside and not {"understaffed", "overstaffed"} & set(reasons):
            reasons.append("workload outside tolerance")
        if terr in e.index and e.loc[terr, "vs_company"] < 1 - th.effort_shortfall:
            reasons.append("effort off strategy")
        if reasons:
            rows.append(
                {
                    "territory_id": terr,
                    "rep_name": s.loc[terr, "rep_name"],
                    "utilization": s.loc[terr, "utilization"],
                    "top_touched": s.loc[terr, "top_touched"],
                    "workload_index": b.loc[terr, "workload_hours_index"],
                    "effort_vs_company": e["vs_company"].get(terr, np.nan),
                    "findings": ", ".join(reasons),
                    "suggested action": "; ".join(ACTIONS[r] for r in reasons),
                }
            )
    table = pd.DataFrame(rows)
    fit = None if missing(effort) else effort.fit
    company = (
        f" Company-wide, priority industries get {fit['effort_share']:.0%} of rep time against "
        f"{fit['market_share']:.0%} of potential"
        + (": a company-wide shift of effort is needed." if fit["effort_index"] < 0.8 else ".")
        if fit
        else ""
    )
    if table.empty:
        headline = "No territory breaks the plan's thresholds." + company
    else:
        counts = table["findings"].str.split(", ").explode().value_counts()
        headline = (
            f"{len(table)} of {len(s)} territories need attention: "
            + ", ".join(f"{n} {k}" for k, n in counts.items())
            + "."
            + company
        )
    return Result(
        "Verdict: what needs realignment",
        headline,
        table,
        formats={
            "utilization": "{:.0%}",
            "top_touched": "{:.0%}",
            "workload_index": "{:.2f}",
            "effort_vs_company": "{:.2f}",
        },
        notes=f"Thresholds from the plan: understaffed above {th.over_utilization:.0%} and "
        f"overstaffed below {th.under_utilization:.0%} of capacity; top accounts untouched below "
        f"{th.top_account_coverage:.0%}; workload outside ±{data.plan.balance.tolerance:.0%} of "
        f"the mean; effort off strategy: effort index more than {th.effort_shortfall:.0%} below "
        "the company's.",
        download="realignment_verdict.csv",
    )


def summary(
    balance: Result, served: Result, effort: Result, verdict: Result, data: Dataset | None = None
) -> list[str]:
    """Three or four sentences that open the stage 1 page, with the findings in numbers
    (and, given ``data``, how many accounts have no territory yet)."""
    if missing(served, balance):
        return [served.headline if missing(served) else balance.headline, effort.headline]
    s = served.table
    under, over = s[s["status"] == "under-served"], s[s["status"] == "over-served"]
    first = f"{len(under)} of {len(s)} territories are under-served and {len(over)} over-served"
    if len(under):
        worst = under.loc[under["utilization"].idxmax()]
        first += f"; {worst['territory_id']} asks {worst['utilization']:.0%} of its rep's hours"
    if len(over):
        idle = over.loc[over["utilization"].idxmin()]
        first += f", {idle['territory_id']} only {idle['utilization']:.0%}"
    short = s[s["top_short"]]
    if len(short):
        spare = int((short["status"] == "over-served").sum())
        first += f". Separately, {len(short)} left too many top-tier accounts untouched" + (
            f" ({spare} of them over-served)" if spare else ""
        )
    fit = None if missing(effort) else effort.fit
    spread = balance.spread
    if missing(effort):
        strategy = effort.headline
    elif fit:
        lowest = furthest_off_strategy(effort.table)["rep_name"].tolist()
        strategy = (
            f"Priority industries hold {fit['market_share']:.0%} of potential but get "
            f"{fit['effort_share']:.0%} of rep time; {', '.join(lowest)} are furthest off "
            "strategy."
        )
    else:
        strategy = "The plan names no priority industry in the data: rep time is not judged."
    return [
        first + ".",
        strategy,
        f"Workload per territory varies with a coefficient of variation of "
        f"{spread.loc['coefficient of variation', 'workload_hours']:.0%} "
        f"({len(balance.outside)} territories outside the plan's tolerance).",
        f"{len(verdict.table)} territories need realignment; the verdict says why and what to do."
        + (unaligned_sentence(data) if data is not None else ""),
    ]
