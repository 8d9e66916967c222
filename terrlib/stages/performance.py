"""Stage 5, performance review: who hit quota, who truly beat what their territory allowed
(with honest uncertainty), where the return is, and what changed since last quarter.

Method for the adjusted rating
------------------------------
For every rep and every quarter they held their territory (up to the quarter reviewed), the
log of bookings per unit of territory potential (stage 2's potential, so a territory with
twice the potential is expected to book twice as much) is modelled on workload against capacity
and tenure, with a fixed effect per calendar quarter. Single deals are capped at the 95th
percentile of deal size for the rating (not for attainment) so one jumbo deal does not decide
it, and a small constant lets quarters without a deal count. The rep enters as a random
intercept (statsmodels MixedLM), so each rep's effect is shrunk towards the team in proportion
to how little history supports it. ``exp(effect)`` is the factor by which the rep books more
(or less) than the territory allows. Intervals are 95% intervals of the conditional (BLUP)
distribution; the probability of being in the top quartile is computed by drawing every rep's
effect from it.

Examples
--------
>>> import numpy as np, pandas as pd
>>> parts = bookings_change(pd.DataFrame({"decided": [10, 12], "won": [3, 6],
...                                       "bookings": [30.0, 72.0]}))
>>> [round(float(x), 3) for x in parts.iloc[1][["volume", "win_rate", "deal_size"]]]
[0.182, 0.511, 0.182]
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from terrlib.inputs.dataset import Dataset
from terrlib.periods import quarter_bounds, trailing_bounds
from terrlib.results import InsufficientData, Result, missing
from terrlib.stages.measures import territory_workload

MIN_QUARTERS = 2
DEAL_CAP = 0.95
MIN_REPS = 5
ACTIVITY_TYPES = ("call", "visit", "meeting", "email")


def _quarters_held(hire: pd.Series, q_end: pd.Timestamp, cap: int) -> pd.Series:
    return np.clip(((q_end - hire).dt.days / 91.3).apply(np.ceil), 0, cap).astype(int)


def rep_scorecard(data: Dataset, quarter: str) -> Result:
    """Per rep (and so per territory): bookings, attainment, pipeline, conversion, activity and
    return for the quarter and the trailing four quarters. See ``result.notes`` for each
    definition."""
    q_start, q_end = quarter_bounds(quarter, data.fiscal_start)
    t_start, _ = trailing_bounds(quarter, 4, data.fiscal_start)
    opps = data.opportunities
    reps = data.reps.set_index("rep_id")
    closed_q = opps[opps["close_date"].between(q_start, q_end)]
    closed_4q = opps[opps["close_date"].between(t_start, q_end)]
    won_q = closed_q[closed_q["stage"] == "won"]
    won_4q = closed_4q[closed_4q["stage"] == "won"]
    decided = closed_4q[closed_4q["stage"].isin(["won", "lost"])]
    created_q = opps[opps["created_date"].between(q_start, q_end)]
    open_now = opps[opps["stage"] == "open"]
    acts = data.activities[data.activities["activity_date"].between(q_start, q_end)]
    acts_4q = data.activities[data.activities["activity_date"].between(t_start, q_end)]
    held = _quarters_held(reps["hire_date"], q_end, 4)

    def per_rep(series: pd.Series, fill=0.0) -> pd.Series:
        return series.reindex(reps.index).fillna(fill)

    table = pd.DataFrame(
        {
            "rep_name": reps["rep_name"],
            "territory_id": reps["territory_id"],
            "region": reps["region"],
            "quota": reps["quarterly_quota"],
            "bookings": per_rep(won_q.groupby("rep_id")["amount"].sum()),
            "deals_won": per_rep(won_q.groupby("rep_id").size()).astype(int),
            "bookings_4q": per_rep(won_4q.groupby("rep_id")["amount"].sum()),
            "quarters_held": held,
            "pipeline_created": per_rep(created_q.groupby("rep_id")["amount"].sum()),
            "open_pipeline": per_rep(open_now.groupby("rep_id")["amount"].sum()),
            "win_rate_4q": decided["stage"]
            .eq("won")
            .groupby(decided["rep_id"])
            .mean()
            .reindex(reps.index),
            "avg_deal_4q": won_4q.groupby("rep_id")["amount"].mean().reindex(reps.index),
            "cycle_days_4q": (won_4q["close_date"] - won_4q["created_date"])
            .dt.days.groupby(won_4q["rep_id"])
            .median()
            .reindex(reps.index),
            "activities": per_rep(acts.groupby("rep_id").size()).astype(int),
        }
    )
    mix = pd.crosstab(acts_4q["rep_id"], acts_4q["activity_type"], normalize="index")
    for kind in ACTIVITY_TYPES:
        table[f"{kind}_share"] = (
            (mix[kind] if kind in mix else pd.Series(dtype=float)).reindex(reps.index).fillna(0.0)
        )
    table["attainment"] = table["bookings"] / table["quota"].replace(0, np.nan)
    table["attainment_4q"] = table["bookings_4q"] / (
        table["quota"] * table["quarters_held"]
    ).replace(0, np.nan)
    table["pipeline_coverage"] = table["open_pipeline"] / table["quota"].replace(0, np.nan)
    share_of_year = table["quarters_held"] / 4
    hours = reps["capacity_hours"] * share_of_year
    table["revenue_per_hour"] = table["bookings_4q"] / hours.replace(0, np.nan)
    table["cost_4q"] = reps["annual_cost"] * share_of_year
    table["roi_4q"] = table["bookings_4q"] / table["cost_4q"].replace(0, np.nan)
    at_quota = int((table["attainment"] >= 1).sum())
    share = table["bookings"].sum() / table["quota"].sum()
    headline = (
        f"In {quarter} the team booked {table['bookings'].sum() / 1e6:,.2f}M against a quota of "
        f"{table['quota'].sum() / 1e6:,.2f}M ({share:.0%}). {at_quota} of {len(table)} reps "
        f"reached quota; attainment ranged from {table['attainment'].min():.0%} to "
        f"{table['attainment'].max():.0%}."
    )
    return Result(
        f"Rep scorecard, {quarter}",
        headline,
        table.sort_values("attainment", ascending=False).reset_index(names="rep_id"),
        formats={
            "quota": "{:,.0f}",
            "bookings": "{:,.0f}",
            "bookings_4q": "{:,.0f}",
            "pipeline_created": "{:,.0f}",
            "open_pipeline": "{:,.0f}",
            "win_rate_4q": "{:.0%}",
            "avg_deal_4q": "{:,.0f}",
            "cycle_days_4q": "{:.0f}",
            "attainment": "{:.0%}",
            "attainment_4q": "{:.0%}",
            "pipeline_coverage": "{:.1f}",
            "revenue_per_hour": "{:,.0f}",
            "cost_4q": "{:,.0f}",
            "roi_4q": "{:.1f}",
            **{f"{k}_share": "{:.0%}" for k in ACTIVITY_TYPES},
        },
        hidden=[
            "region",
            "quarters_held",
            "cost_4q",
            "deals_won",
            "pipeline_created",
            "avg_deal_4q",
            "cycle_days_4q",
            *[f"{k}_share" for k in ACTIVITY_TYPES],
        ],
        notes="bookings: won amount closed in the quarter; attainment: bookings / quarterly "
        "quota; _4q: the last four quarters, attainment_4q against the quota of the quarters "
        "held; pipeline_created: amount of opportunities created in the quarter; "
        "pipeline_coverage: open pipeline at quarter end / next quarter's quota; win_rate: won / "
        "(won + lost); cycle_days: median days created to close of won deals; "
        "revenue_per_hour: bookings_4q / selling hours held; roi_4q: bookings_4q / the rep's "
        "cost for the quarters held.",
    )


def rep_quarter_panel(
    data: Dataset, quarter: str, scores: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per rep and quarter held (up to ``quarter``): bookings, decided and won deals,
    quota and what the territory offers (annual potential, utilization, capacity, tenure).

    Potential comes from stage 2's account scores when given, else the accounts' revenue."""
    q = data.quarter(quarter)
    reps = data.reps.set_index("rep_id")
    acc = data.accounts.set_index("account_id")
    if scores is not None and "potential" in scores:
        pot = scores.set_index("account_id")["potential"]
    else:
        pot = acc["annual_revenue"] * 0.01
    terr_pot = pot.groupby(acc["territory_id"].reindex(pot.index).to_numpy()).sum()
    util = territory_workload(data).table.set_index("territory_id")["utilization"]
    opps = data.opportunities
    closed = opps[opps["stage"].isin(["won", "lost"])].copy()
    closed["quarter"] = closed["close_date"].dt.to_period(q.freq)
    closed["won"] = closed["stage"].eq("won")
    closed["won_amount"] = closed["amount"].where(closed["won"], 0.0)
    cap = closed.loc[closed["won"], "amount"].quantile(DEAL_CAP) if closed["won"].any() else 0.0
    closed["capped"] = closed["won_amount"].clip(upper=cap)
    per = closed.groupby(["rep_id", "quarter"]).agg(
        decided=("won", "size"),
        won=("won", "sum"),
        bookings=("won_amount", "sum"),
        bookings_capped=("capped", "sum"),
    )
    first = min(data.opportunities["created_date"].min(), data.activities["activity_date"].min())
    quarters = pd.period_range(first, q.end_time, freq=q.freq)
    rows = []
    for rep_id, rep in reps.iterrows():
        for qq in quarters:
            if rep["hire_date"] > qq.end_time:
                continue
            rows.append(
                {
                    "rep_id": rep_id,
                    "rep_name": rep["rep_name"],
                    "territory_id": rep["territory_id"],
                    "quarter": qq,
                    "quota": rep["quarterly_quota"],
                    "potential": terr_pot.get(rep["territory_id"], 0.0),
                    "utilization": util.get(rep["territory_id"], np.nan),
                    "capacity_hours": rep["capacity_hours"],
                    "tenure_years": (qq.end_time - rep["hire_date"]).days / 365.25,
                }
            )
    panel = pd.DataFrame(rows)
    if panel.empty:
        return panel
    panel = panel.join(per, on=["rep_id", "quarter"]).fillna(
        {"decided": 0, "won": 0, "bookings": 0.0, "bookings_capped": 0.0}
    )
    return panel


def rep_effects(panel: pd.DataFrame, quarter: str, draws: int = 4000, seed: int = 7) -> Result:
    """Adjusted rep ratings with shrinkage and intervals (see the module text).

    Reps with fewer than two quarters of history keep their row but get no rating, and say so.

    Raises
    ------
    InsufficientData
        With fewer than five reps holding two or more quarters (no honest model fits).
    """
    counts = panel.groupby("rep_id").size()
    enough = counts[counts >= MIN_QUARTERS].index
    fit = panel[panel["rep_id"].isin(enough)].copy()
    if fit["rep_id"].nunique() < MIN_REPS:
        raise InsufficientData(
            f"at least {MIN_REPS} reps with {MIN_QUARTERS} or more quarters of history",
            f"{fit['rep_id'].nunique()}",
            "Ratings start once enough reps have that much history.",
        )
    positive = fit.loc[fit["bookings_capped"] > 0, "bookings_capped"]
    offset = max(float(positive.median()) * 0.2 if len(positive) else 1.0, 1.0)
    fit = fit.assign(
        y=np.log(fit["bookings_capped"] + offset) - np.log(fit["potential"].clip(lower=1.0) / 4),
        log_tenure=np.log1p(fit["tenure_years"].clip(lower=0)),
        q=fit["quarter"].astype(str),
    )
    terms = [t for t in ("utilization", "log_tenure") if fit[t].nunique() > 1]
    if fit["q"].nunique() > 1:
        terms.append("C(q)")
    formula = "y ~ " + (" + ".join(terms) or "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smf.mixedlm(formula, fit, groups=fit["rep_id"]).fit(reml=True)
    effect = pd.Series({k: float(v.iloc[0]) for k, v in model.random_effects.items()})
    se = pd.Series({k: float(np.sqrt(v.iloc[0, 0])) for k, v in model.random_effects_cov.items()})
    rng = np.random.default_rng(seed)
    sims = rng.normal(effect.to_numpy(), se.to_numpy(), size=(draws, len(effect)))
    ranks = sims.argsort(axis=1).argsort(axis=1)  # 0 = lowest
    cut = len(effect) - max(1, round(len(effect) / 4))
    median = np.median(sims, axis=1, keepdims=True)
    table = pd.DataFrame(
        {
            "effect": effect,
            "se": se,
            "ci_low": effect - 1.96 * se,
            "ci_high": effect + 1.96 * se,
            "p_top_quartile": (ranks >= cut).mean(axis=0),
            "p_above_median": (sims > median).mean(axis=0),
        }
    )
    table["multiplier"] = np.exp(table["effect"])
    table["multiplier_low"] = np.exp(table["ci_low"])
    table["multiplier_high"] = np.exp(table["ci_high"])
    names = panel.drop_duplicates("rep_id").set_index("rep_id")
    table = table.reindex(names.index)
    table.insert(0, "rep_name", names["rep_name"])
    table.insert(1, "territory_id", names["territory_id"])
    table["quarters"] = counts.reindex(table.index).astype(int)
    table.attrs["model"] = model
    return _rate(table, panel, quarter, model)


def _rate(table: pd.DataFrame, panel: pd.DataFrame, quarter: str, model) -> Result:
    last4 = panel[panel["quarter"] > panel["quarter"].max() - 4]
    raw = last4.groupby("rep_id")["bookings"].sum() / last4.groupby("rep_id")["quota"].sum()
    table["attainment_4q"] = raw.reindex(table.index)
    table["raw_rank"] = table["attainment_4q"].rank(ascending=False, method="min")
    table["adjusted_rank"] = table["effect"].rank(ascending=False, method="min")
    rated = table["effect"].notna()
    rating = np.select(
        [~rated, table["ci_low"] > 0, table["ci_high"] < 0],
        [f"too little history (under {MIN_QUARTERS} quarters)", "top performer", "needs help"],
        "within the range of the team",
    )
    table["rating"] = rating
    flattered = rated & (table["attainment_4q"] >= 1) & (table["p_above_median"] <= 0.25)
    hidden = rated & (table["attainment_4q"] < 1) & (table["p_above_median"] >= 0.75)
    table["raw_attainment_says"] = np.select(
        [flattered, hidden], ["flattered by the territory", "hidden by the territory"], ""
    )
    tops = table[table["rating"] == "top performer"]
    helps = table[table["rating"] == "needs help"]
    headline = (
        f"After allowing for what each territory offers, {len(tops)} reps are credibly above "
        f"the team (95% interval above 1x) and {len(helps)} credibly below; the rest cannot be "
        f"told apart from the middle with {panel['quarter'].nunique()} quarters of data. "
        f"{int(flattered.sum())} reps at or above quota are flattered by their territory and "
        f"{int(hidden.sum())} below quota are held back by theirs."
    )
    result = Result(
        f"Adjusted rep ratings (performance against what the territory allows), {quarter}",
        headline,
        table.sort_values("effect", ascending=False).reset_index(names="rep_id"),
        formats={
            "effect": "{:+.2f}",
            "se": "{:.2f}",
            "ci_low": "{:+.2f}",
            "ci_high": "{:+.2f}",
            "p_top_quartile": "{:.0%}",
            "p_above_median": "{:.0%}",
            "multiplier": "{:.2f}x",
            "multiplier_low": "{:.2f}x",
            "multiplier_high": "{:.2f}x",
            "attainment_4q": "{:.0%}",
            "raw_rank": "{:.0f}",
            "adjusted_rank": "{:.0f}",
        },
        hidden=["effect", "se", "ci_low", "ci_high"],
        notes="multiplier: how many times what the territory predicts the rep books (1.00x = "
        "as predicted), with its 95% interval; p_top_quartile: probability the rep belongs in "
        "the team's top quarter; raw_rank: rank by quota attainment over four quarters; "
        "adjusted_rank: rank by the adjusted rating. Flattered: at or above quota with at most "
        "25% probability of being above the team median; hidden: below quota with at least 75%.",
    )
    result.model = model
    return result


def bookings_change(frame: pd.DataFrame) -> pd.DataFrame:
    """Split each period's change in bookings into volume (decided deals), win rate and deal
    size, as log contributions that add up exactly: log(B1/B0) = log(n1/n0) + log(w1/w0) +
    log(d1/d0). ``frame`` has rows in time order with ``decided``, ``won`` and ``bookings``."""
    n = frame["decided"].astype(float).replace(0, np.nan)
    w = frame["won"].astype(float) / n
    d = frame["bookings"].astype(float) / frame["won"].astype(float).replace(0, np.nan)
    return pd.DataFrame(
        {
            "change": np.log(frame["bookings"].replace(0, np.nan)).diff(),
            "volume": np.log(n).diff(),
            "win_rate": np.log(w.replace(0, np.nan)).diff(),
            "deal_size": np.log(d).diff(),
        },
        index=frame.index,
    )


def trends(panel: pd.DataFrame, quarter: str) -> Result:
    """Quarter over quarter for the team and each rep: bookings, and what moved them (volume of
    decided deals, win rate, deal size) from the previous quarter to ``quarter``."""
    team = panel.groupby("quarter")[["decided", "won", "bookings"]].sum()
    team_parts = bookings_change(team)
    last, prev = team.index.max(), team.index.max() - 1
    rows = []
    for rep_id, grp in panel.groupby("rep_id"):
        grp = grp.set_index("quarter").sort_index()
        if prev not in grp.index or last not in grp.index:
            continue
        parts = bookings_change(grp.loc[[prev, last], ["decided", "won", "bookings"]]).iloc[-1]
        rows.append(
            {
                "rep_id": rep_id,
                "rep_name": grp["rep_name"].iloc[0],
                "bookings_prev": grp.loc[prev, "bookings"],
                "bookings": grp.loc[last, "bookings"],
                **parts.to_dict(),
            }
        )
    reps = pd.DataFrame(rows)
    tp = team_parts.loc[last] if last in team_parts.index else pd.Series(dtype=float)
    before, now = team["bookings"].get(prev, 0.0), team["bookings"].get(last, 0.0)
    drivers = {
        "volume": tp.get("volume"),
        "win rate": tp.get("win_rate"),
        "deal size": tp.get("deal_size"),
    }
    moved = f"Team bookings went from {before / 1e6:,.2f}M in {prev} to {now / 1e6:,.2f}M in {last}"
    if before > 0 and now > 0 and all(pd.notna(v) for v in drivers.values()):
        main = max(drivers, key=lambda k: abs(drivers[k]))
        headline = (
            f"{moved} ({now / before - 1:+.0%}); the largest driver was {main} "
            f"({np.expm1(drivers[main]):+.0%}), with volume {np.expm1(drivers['volume']):+.0%}, "
            f"win rate {np.expm1(drivers['win rate']):+.0%} and deal size "
            f"{np.expm1(drivers['deal size']):+.0%}."
        )
    else:
        headline = (
            f"{moved}; with no deal won in one of the two quarters the change cannot be "
            "split into volume, win rate and deal size."
        )
    team_table = team.assign(
        win_rate=team["won"] / team["decided"], avg_deal=team["bookings"] / team["won"]
    ).reset_index()
    team_table["quarter"] = team_table["quarter"].astype(str)
    result = Result(
        f"What moved bookings from {prev} to {last}",
        headline,
        reps.sort_values("change").reset_index(drop=True) if len(reps) else reps,
        formats={
            "bookings_prev": "{:,.0f}",
            "bookings": "{:,.0f}",
            "change": "{:+.2f}",
            "volume": "{:+.2f}",
            "win_rate": "{:+.2f}",
            "deal_size": "{:+.2f}",
        },
        notes="change = volume + win_rate + deal_size, each a log ratio of this quarter to the "
        "last (0.10 is about +10%); blank where a quarter had no decided or won deal.",
    )
    result.team = team_table
    return result


def territory_return(
    scorecard: Result,
    effects: Result,
    servedness: pd.DataFrame | None,
    scores: pd.DataFrame | None,
) -> Result:
    """Revenue, cost and ROI per territory against its potential, next to its workload and
    its rep's adjusted rating: is a rep struggling because the territory is overloaded?"""
    card = scorecard.table.set_index("rep_id")
    table = card[["rep_name", "territory_id", "bookings_4q", "cost_4q", "roi_4q"]].copy()
    if missing(effects):
        table["multiplier"], table["rating"] = np.nan, ""
    else:
        eff = effects.table.set_index("rep_id")
        table["multiplier"] = eff["multiplier"].reindex(table.index)
        table["rating"] = eff["rating"].reindex(table.index)
    table = table.set_index("territory_id")
    if scores is not None and "potential" in scores:
        table["potential"] = scores.groupby("territory_id")["potential"].sum()
        table["penetration"] = table["bookings_4q"] / table["potential"]
    if servedness is not None:
        table["utilization"] = servedness.set_index("territory_id")["utilization"]
    struggling = table[table["rating"] == "needs help"]
    overloaded = (struggling["utilization"] > 1.15).sum() if "utilization" in table else 0
    headline = (
        f"ROI (bookings over the rep's cost, last four quarters) runs from "
        f"{table['roi_4q'].min():.1f}x to {table['roi_4q'].max():.1f}x. "
        + (
            f"{overloaded} of the {len(struggling)} reps rated below the team work a territory "
            "that needs more than 115% of their hours: their territory, not only the rep, needs "
            "attention."
            if len(struggling)
            else "No rep is credibly below the team."
            if not missing(effects)
            else "Without adjusted ratings (not enough history) no rep is judged."
        )
    )
    return Result(
        "Territory return against potential and workload",
        headline,
        table.reset_index().sort_values("roi_4q", ascending=False).reset_index(drop=True),
        formats={
            "bookings_4q": "{:,.0f}",
            "cost_4q": "{:,.0f}",
            "roi_4q": "{:.1f}",
            "multiplier": "{:.2f}x",
            "potential": "{:,.0f}",
            "penetration": "{:.0%}",
            "utilization": "{:.0%}",
        },
        notes="roi_4q: bookings of the last four quarters / the rep's cost for them; "
        "penetration: bookings / annual potential (stage 2); utilization: workload / capacity.",
    )


def summary(card: Result, effects: Result, change: Result) -> list[str]:
    """Three sentences that open the stage 5 page, with the findings in numbers."""
    c = card.table
    attained = (
        f"The team booked {c['bookings'].sum() / c['quota'].sum():.0%} of quota; "
        f"{int((c['attainment'] >= 1).sum())} of {len(c)} reps reached theirs."
    )
    if missing(effects):
        return [attained, effects.headline, change.headline.split("; ")[0] + "."]
    eff = effects.table
    rated = eff[eff["effect"].notna()]
    best = rated.iloc[0]
    flattered = eff[eff["raw_attainment_says"] == "flattered by the territory"]
    hidden = eff[eff["raw_attainment_says"] == "hidden by the territory"]
    sentences = [
        attained,
        f"Allowing for territory potential and workload, {best['rep_name']} books "
        f"{best['multiplier']:.2f}x what the territory predicts (95% interval "
        f"{best['multiplier_low']:.2f}x to {best['multiplier_high']:.2f}x, "
        f"{best['p_top_quartile']:.0%} likely top quartile); "
        f"{(rated['rating'] == 'top performer').sum()} reps are credibly above the team "
        f"and {(rated['rating'] == 'needs help').sum()} credibly below.",
    ]
    if len(flattered) or len(hidden):
        worst = pd.concat([flattered.nsmallest(2, "multiplier"), hidden.nlargest(2, "multiplier")])
        sentences.append(
            f"Raw attainment misleads for {len(flattered) + len(hidden)} reps, for instance "
            + ", ".join(
                f"{r.rep_name} ({r.attainment_4q:.0%} of quota, {r.multiplier:.2f}x adjusted)"
                for r in worst.itertuples()
            )
            + "."
        )
    sentences.append(change.headline.split("; ")[0] + ".")
    return sentences
