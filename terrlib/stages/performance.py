"""Stage 5, performance review: who hit quota, who truly beat what their territory allowed
(with honest uncertainty), where the return is, and what changed since last quarter.

Method for the adjusted rating
------------------------------
A rep is rated on the deals their territory brings, not on how rich it is. Every deal won or
lost in the last :data:`RATING_QUARTERS` quarters enters a logistic model of winning with what
the rep could not choose: the account's industry and size (log employees), the product,
whether the account already owned something (a won deal that closed before this one was
created) and the quarter it closed, all estimated from the data, plus one intercept per rep.
Won deals enter a second, linear model of log deal size with the same terms. Each rep's two
intercepts are then shrunk towards the team by empirical Bayes (:mod:`terrlib.shrinkage`):
the less data behind a rep, the closer to the team. Intervals are 95% intervals of the
posterior mixed over a parametric bootstrap of the team's spread, so they carry the
uncertainty of the fixed terms (in each intercept's standard error) and of the spread.

``effect`` is the rep's shift of the log-odds of winning; ``multiplier`` combines it with the
deal-size effect into bookings per decided deal against a typical rep on the same deals
(1.5x: half as much again). Reps are flagged above or below the team when the sign of their
multiplier is credible: their false-sign rate (the probability that they are on the other
side of the team's middle) is at most :data:`FALSE_SIGN_RATE`, so their interval leaves out
1x; the page gives the expected number of wrong flags, the sum of the flagged reps' rates.
What is not rated: how many deals a rep creates (volume depends on the territory in ways the
data cannot separate from the rep). Reps with fewer than :data:`MIN_DEALS` decided deals are listed
without a rating.

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
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy.special import expit

from terrlib.fitting import estimable_terms
from terrlib.inputs.dataset import Dataset
from terrlib.periods import quarter_bounds, trailing_bounds
from terrlib.results import Decision, InsufficientData, Result, missing
from terrlib.shrinkage import Shrunk, false_sign_flags, false_sign_rate, shrink
from terrlib.stages.measures import (
    furthest_off_strategy,
    prior_ownership,
    quarters_held,
    territory_workload,
)

MIN_REPS = 5
ACTIVITY_TYPES = ("call", "visit", "meeting", "email")
#: Quarters of decided deals a rating reads (skill can change; older deals say less).
RATING_QUARTERS = 12
#: Decided deals a rep needs for a rating of their own (the small-sample line of every rate).
MIN_DEALS = 30
#: Won deals a rep needs for a deal-size effect of their own (else the team's spread).
MIN_WON = 10
#: Largest false-sign rate of a rep flagged above or below the team (0.025: the rep's 95%
#: interval leaves out the team's middle).
FALSE_SIGN_RATE = 0.025
#: Deals of reps without enough of their own share one intercept.
POOLED = "(pooled)"
#: What the rep could not choose, in the win model and the deal-size model.
DEAL_TERMS = "C(industry) + log_employees + prior_owner + C(product) + C(quarter)"


@dataclass
class RatingModel:
    """What the rating model read and found, for the page's text.

    Attributes
    ----------
    deals, reps : int
        Decided deals read and reps rated.
    expected_false : float
        Expected number of flagged reps whose true effect has the other sign.
    alpha : float
        The false-sign rate the flags are held to.
    """

    deals: int
    reps: int
    expected_false: float
    alpha: float


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
    held = quarters_held(reps["hire_date"], q_end, 4)

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
            "revenue_per_hour",
            *[f"{k}_share" for k in ACTIVITY_TYPES],
        ],
        notes="bookings: won amount closed in the quarter; attainment: bookings / quarterly "
        "quota; (last 4 quarters): over the last four quarters, attainment_4q against the "
        "quota of the quarters "
        "held; pipeline_created: amount of opportunities created in the quarter; "
        "pipeline_coverage: open pipeline at quarter end / next quarter's quota; win rate: won / "
        "(won + lost); days to close: median days created to close of won deals; "
        "revenue_per_hour: bookings_4q / selling hours held; roi_4q: bookings_4q / the rep's "
        "cost for the quarters held.",
        download="rep_scorecard.csv",
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
    per = closed.groupby(["rep_id", "quarter"]).agg(
        decided=("won", "size"),
        won=("won", "sum"),
        bookings=("won_amount", "sum"),
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
        {"decided": 0, "won": 0, "bookings": 0.0}
    )
    return panel


def decided_deals(data: Dataset, quarter: str, quarters: int = RATING_QUARTERS) -> pd.DataFrame:
    """Deals won or lost in the ``quarters`` up to ``quarter``, with what the rep could not
    choose: the account's industry and size, the product, whether the account already owned
    something (a won deal that closed before this deal was created) and the quarter it closed.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> day = pd.Timestamp
    >>> opps = pd.DataFrame({"opportunity_id": ["o1", "o2", "o3"], "account_id": ["a"] * 3,
    ...     "rep_id": ["r"] * 3, "product": ["X", "Y", "X"], "stage": ["won", "lost", "won"],
    ...     "amount": [10.0, 20.0, 30.0],
    ...     "created_date": [day("2024-01-05"), day("2024-01-10"), day("2024-03-01")],
    ...     "close_date": [day("2024-02-01"), day("2024-02-10"), day("2024-03-20")]})
    >>> acc = pd.DataFrame({"account_id": ["a"], "industry": ["Retail"], "employees": [50]})
    >>> data = SimpleNamespace(opportunities=opps, accounts=acc, fiscal_start=1,
    ...                        quarter=lambda q: pd.Period(q, "Q"))
    >>> decided_deals(data, "2024Q1")["prior_owner"].tolist()
    [0, 0, 1]
    """
    q = data.quarter(quarter)
    start = (q - (quarters - 1)).start_time
    opps = data.opportunities
    deals = opps[
        opps["stage"].isin(["won", "lost"]) & opps["close_date"].between(start, q.end_time)
    ].copy()
    acc = data.accounts.set_index("account_id")
    deals["industry"] = deals["account_id"].map(acc["industry"]).fillna("unknown")
    deals["log_employees"] = np.log(
        deals["account_id"].map(acc["employees"]).fillna(acc["employees"].median()).clip(lower=1)
    )
    deals["won"] = deals["stage"].eq("won").astype(int)
    deals["quarter"] = deals["close_date"].dt.to_period(q.freq).astype(str)
    won = opps[opps["stage"].eq("won") & opps["close_date"].notna()]
    deals["prior_owner"] = prior_ownership(deals, won, set())["prior_win"].to_numpy()
    return deals.reset_index(drop=True)


def _rep_fit(
    outcome: str, frame: pd.DataFrame, family: str
) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Each rep's own intercept and its standard error from a fit of ``outcome`` on
    :data:`DEAL_TERMS` with one intercept per rep (``rep`` column), leaving out the terms the
    data cannot estimate, and each row's fitted linear predictor."""
    kept, _ = estimable_terms(f"{outcome} ~ C(rep) + {DEAL_TERMS}", frame)
    others = [t for t in kept if t != "C(rep)"]
    reduced = f"{outcome} ~ 0 + C(rep)" + "".join(f" + {t}" for t in others)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if family == "binomial":
                model = smf.glm(reduced, frame, family=sm.families.Binomial()).fit()
            else:
                model = smf.ols(reduced, frame).fit()
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise InsufficientData(
            "deals whose outcomes the kinds of deal do not separate perfectly",
            f"a fit that fails ({type(exc).__name__})",
            "more decided deals",
        ) from None
    names = [c for c in model.params.index if c.startswith("C(rep)[") and c != f"C(rep)[{POOLED}]"]
    reps = [c[len("C(rep)[") : -1] for c in names]
    # Each intercept is the rep at the reference industry, product and quarter, so all share
    # those estimates' error; deviations from the rated reps' mean do not, and are what is
    # rated (the pooled reps' shared intercept is left out of the mean).
    centre = np.eye(len(names)) - 1.0 / len(names)
    cov = centre @ model.cov_params().loc[names, names].to_numpy() @ centre.T
    b = pd.Series(centre @ model.params[names].to_numpy(), index=reps)
    se = pd.Series(np.sqrt(np.clip(np.diag(cov), 0, None)), index=reps)
    se = se.where(np.isfinite(b) & np.isfinite(se) & (se > 0), np.inf)  # no estimate: the prior
    rows = model.model.data.row_labels  # the rows the fit kept
    eta = pd.Series(model.model.exog @ model.params.to_numpy(), index=rows).reindex(frame.index)
    return b, se, eta.to_numpy(float)


def _own_or_pooled(deals: pd.DataFrame, enough: pd.Index) -> pd.Series:
    return deals["rep_id"].where(deals["rep_id"].isin(enough), POOLED)


def rep_effects(
    data: Dataset,
    quarter: str,
    panel: pd.DataFrame,
    draws: int = 2000,
    seed: int = 7,
    alpha: float = FALSE_SIGN_RATE,
) -> Result:
    """Adjusted rep ratings from a deal-level model, shrunk by empirical Bayes (see the
    module text).

    Parameters
    ----------
    data : Dataset
        The company as of ``quarter``.
    quarter : str
        The quarter reviewed; deals that closed in the :data:`RATING_QUARTERS` up to it count.
    panel : pandas.DataFrame
        :func:`rep_quarter_panel`, for names, quarters held and raw attainment.
    draws, seed : int
        Posterior draws and their seed (the same data give the same ratings).
    alpha : float
        The largest false-sign rate of a rep flagged above or below the team.

    Raises
    ------
    InsufficientData
        With fewer than five reps with :data:`MIN_DEALS` decided deals (no honest model fits).
    """
    deals = decided_deals(data, quarter)
    deals = deals[deals["rep_id"].isin(panel["rep_id"])]
    per_rep = deals.groupby("rep_id")["won"].agg(["size", "sum"])
    enough = per_rep[
        (per_rep["size"] >= MIN_DEALS) & (per_rep["sum"] > 0) & (per_rep["sum"] < per_rep["size"])
    ].index
    if len(enough) < MIN_REPS:
        raise InsufficientData(
            f"at least {MIN_REPS} reps with {MIN_DEALS} or more decided deals (won and lost) "
            f"in the last {RATING_QUARTERS} quarters",
            f"{len(enough)}",
            "Ratings start once enough reps have that many decided deals.",
        )
    deals = deals.assign(rep=_own_or_pooled(deals, enough))
    b, se, eta = _rep_fit("won", deals, "binomial")
    b, se = b.reindex(enough), se.reindex(enough)
    win = shrink(b.to_numpy(), se.to_numpy(), draws=draws, seed=seed, mean=0.0)
    won = deals[deals["won"].eq(1) & deals["amount"].gt(0)].assign(
        log_amount=lambda f: np.log(f["amount"])
    )
    won_per = won.groupby("rep_id").size()
    sized = won_per[won_per >= MIN_WON].index.intersection(enough)
    if len(sized) >= MIN_REPS:
        won = won.assign(rep=_own_or_pooled(won, sized))
        sb, sse, _ = _rep_fit("log_amount", won, "gaussian")
        sb, sse = sb.reindex(enough), sse.reindex(enough).fillna(np.inf)
        size = shrink(
            sb.fillna(0.0).to_numpy(), sse.to_numpy(), draws=draws, seed=seed + 1, mean=0.0
        )
        size_draws = size.draws
    else:
        size, size_draws = None, np.zeros_like(win.draws)
    combined = _bookings_effect(deals["rep"].to_numpy(), eta, enough, b, win, size_draws)
    flags, expected_false = false_sign_flags(combined, alpha)
    table = pd.DataFrame(
        {
            "effect": win.mean,
            "ci_low": win.low,
            "ci_high": win.high,
            "size_effect": size.mean if size is not None else np.nan,
            "size_low": size.low if size is not None else np.nan,
            "size_high": size.high if size is not None else np.nan,
            "multiplier": np.exp(combined.mean(axis=0)),
            "multiplier_low": np.exp(np.quantile(combined, 0.025, axis=0)),
            "multiplier_high": np.exp(np.quantile(combined, 0.975, axis=0)),
            "false_sign": false_sign_rate(combined),
            "flag": flags,
        },
        index=enough,
    )
    ranks = combined.argsort(axis=1).argsort(axis=1)  # 0 = lowest
    cut = len(enough) - max(1, round(len(enough) / 4))
    table["p_top_quartile"] = (ranks >= cut).mean(axis=0)
    table["p_above_median"] = (combined > np.median(combined, axis=1, keepdims=True)).mean(0)
    names = panel.drop_duplicates("rep_id").set_index("rep_id")
    table = table.reindex(names.index)
    table.insert(0, "rep_name", names["rep_name"])
    table.insert(1, "territory_id", names["territory_id"])
    table["decided_deals"] = per_rep["size"].reindex(table.index).fillna(0).astype(int)
    table["quarters"] = panel.groupby("rep_id").size().reindex(table.index).astype(int)
    model = RatingModel(
        deals=len(deals), reps=len(enough), expected_false=expected_false, alpha=alpha
    )
    return _rate(table, panel, quarter, model)


def _bookings_effect(
    rep_of: np.ndarray,
    eta: np.ndarray,
    reps: pd.Index,
    b: pd.Series,
    win: Shrunk,
    size_draws: np.ndarray,
) -> np.ndarray:
    """Draws of each rep's log bookings per decided deal against a typical rep on the same
    deals: the shrunk win effect applied to the odds of each of the rep's deals (their fitted
    log-odds with the rep's own intercept replaced by the team's), plus the deal-size effect."""
    out = np.empty_like(win.draws)
    for i, rep in enumerate(reps):
        typical = eta[(rep_of == rep) & np.isfinite(eta)] - (b[rep] - win.mu)
        shifted = expit(typical[None, :] + win.draws[:, [i]])
        out[:, i] = np.log(shifted.mean(axis=1) / expit(typical).mean()) + size_draws[:, i]
    return out


def _rate(table: pd.DataFrame, panel: pd.DataFrame, quarter: str, model: RatingModel) -> Result:
    last4 = panel[panel["quarter"] > panel["quarter"].max() - 4]
    raw = last4.groupby("rep_id")["bookings"].sum() / last4.groupby("rep_id")["quota"].sum()
    table["attainment_4q"] = raw.reindex(table.index)
    table["raw_rank"] = table["attainment_4q"].rank(ascending=False, method="min")
    table["adjusted_rank"] = table["multiplier"].rank(ascending=False, method="min")
    rated = table["effect"].notna()
    too_few = f"too little history (under {MIN_DEALS} decided deals in {RATING_QUARTERS} quarters)"
    table["rating"] = np.select(
        [~rated, table["flag"] > 0, table["flag"] < 0],
        [too_few, "top performer", "needs help"],
        "within the range of the team",
    )
    table = table.drop(columns="flag")
    flattered = rated & (table["attainment_4q"] >= 1) & (table["p_above_median"] <= 0.25)
    hidden = rated & (table["attainment_4q"] < 1) & (table["p_above_median"] >= 0.75)
    table["raw_attainment_says"] = np.select(
        [flattered, hidden], ["flattered by the territory", "hidden by the territory"], ""
    )
    tops = table[table["rating"] == "top performer"]
    helps = table[table["rating"] == "needs help"]
    flagged = len(tops) + len(helps)
    headline = (
        f"On the same kinds of deals (industry, size, product, existing customer or not, "
        f"quarter), {len(tops)} reps convert deals into bookings credibly better than the team "
        f"and {len(helps)} credibly worse; the other {model.reps - flagged} rated reps cannot "
        f"be told apart from the middle with {model.deals:,} decided deals. "
        + (
            f"Of the {flagged} flagged, about {model.expected_false:.1f} would be expected on "
            f"the wrong side by chance (each flag is at least {1 - model.alpha:.1%} sure of its "
            "side). "
            if flagged
            else ""
        )
        + f"{int(flattered.sum())} reps at or above quota are flattered by their territory and "
        f"{int(hidden.sum())} below quota are held back by theirs."
    )
    result = Result(
        f"Adjusted rep ratings (how each rep converts the deals their territory brings), {quarter}",
        headline,
        table.sort_values("multiplier", ascending=False).reset_index(names="rep_id"),
        formats={
            "effect": "{:+.2f}",
            "ci_low": "{:+.2f}",
            "ci_high": "{:+.2f}",
            "size_effect": "{:+.2f}",
            "size_low": "{:+.2f}",
            "size_high": "{:+.2f}",
            "false_sign": "{:.0%}",
            "p_top_quartile": "{:.0%}",
            "p_above_median": "{:.0%}",
            "multiplier": "{:.2f}x",
            "multiplier_low": _times,
            "multiplier_high": _times,
            "attainment_4q": "{:.0%}",
            "raw_rank": "{:.0f}",
            "adjusted_rank": "{:.0f}",
            "decided_deals": "{:,.0f}",
        },
        hidden=[
            "effect",
            "ci_low",
            "ci_high",
            "size_effect",
            "size_low",
            "size_high",
            "p_above_median",
            "quarters",
            "false_sign",
        ],  # fmt: skip
        notes="multiplier: the rep's bookings per decided deal against a typical rep on the "
        "same deals (1.00x = the team's typical rep), with its 95% interval, from the rep's "
        "effect on the odds of winning (effect, log-odds) and on deal size (size_effect, log); "
        "false_sign: the probability that the rep is on the other side of the team's middle "
        "from where the estimate puts them; p_top_quartile: probability the rep belongs in "
        "the team's top quarter; raw_rank: rank by quota attainment over four quarters; "
        "adjusted_rank: rank by the multiplier. Flattered: at or above quota with at most 25% "
        "probability of being above the team median; hidden: below quota with at least 75%.",
        download="rep_effects.csv",
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
    parts = ["change", "volume", "win_rate", "deal_size"]
    if len(reps):  # log ratios, which add up, shown as the percentage changes they are
        reps = reps.sort_values("change").reset_index(drop=True)
        reps[parts] = np.expm1(reps[parts].astype(float))
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
        reps,
        formats={"bookings_prev": "{:,.0f}", "bookings": "{:,.0f}"}
        | dict.fromkeys(parts, "{:+.0%}"),
        notes="Change: bookings this quarter against the last; it is the product of the "
        "changes in volume (decided deals), win rate and deal size ((1 + change) = (1 + "
        "volume) x (1 + win rate) x (1 + deal size)); blank where a quarter had no decided or "
        "won deal.",
        download="rep_trends.csv",
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
        served = servedness.set_index("territory_id")
        table["utilization"] = served["utilization"]
        under = served["status"] == "under-served" if "status" in served else pd.Series(False)
        table["under_served"] = under.reindex(table.index, fill_value=False)
    struggling = table[table["rating"] == "needs help"]
    overloaded = int(struggling["under_served"].sum()) if "under_served" in table else 0
    headline = (
        f"ROI (bookings over the rep's cost, last four quarters) runs from "
        f"{table['roi_4q'].min():.1f}x to {table['roi_4q'].max():.1f}x. "
        + (
            (
                f"{overloaded} of the {len(struggling)} reps rated below the team work a "
                "territory stage 1 finds under-served (its calls need more of the rep's hours "
                "than the plan allows): their territory, not only the rep, needs attention."
                if overloaded
                else f"None of the {len(struggling)} reps rated below the team works a "
                "territory stage 1 finds under-served: their workload does not explain it."
            )
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
        "penetration: bookings / annual potential (stage 2); utilization: workload / capacity; "
        "under_served: stage 1's status (in the download).",
        hidden=["under_served"],
        download="territory_return.csv",
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
    tops = int((rated["rating"] == "top performer").sum())
    helps = int((rated["rating"] == "needs help").sum())
    flattered = eff[eff["raw_attainment_says"] == "flattered by the territory"]
    hidden = eff[eff["raw_attainment_says"] == "hidden by the territory"]
    counts = (
        f"{tops} reps are credibly above the team and {helps} credibly below (about "
        f"{effects.model.expected_false:.1f} of those {tops + helps} may be on the wrong side)."
    )
    if best["rating"] == "top performer":
        lead = (
            f"On the same kinds of deals, {best['rep_name']} books {best['multiplier']:.2f}x "
            f"what a typical rep would per decided deal (95% interval "
            f"{_times(best['multiplier_low'])} to {_times(best['multiplier_high'])}, "
            f"{best['p_top_quartile']:.0%} likely top quartile); "
        )
        sentences = [attained, lead + counts]
    else:
        sentences = [attained, "On the same kinds of deals, " + counts]
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


def _times(value: float, against: float = 1.0) -> str:
    """A multiplier to two decimals, or three when two would show ``against`` (so a bound
    of 1.0006x does not read as 1.00x).

    Examples
    --------
    >>> _times(1.0006), _times(1.2345), _times(0.9996)
    ('1.001x', '1.23x', '1.000x')
    """
    two = f"{value:.2f}"
    return f"{value:.3f}x" if float(two) == against else f"{two}x"


def decisions(effects: Result, effort: pd.DataFrame | None = None) -> list[Decision]:
    """Stage 5's lines for the report's Decisions: the reps to recognise and to coach, only
    those whose rating is credible (see :func:`rep_effects`), each with how sure it is, and
    what other pages say of them that a reader should weigh: raw attainment that the
    territory flatters or hides, and (with stage 1's ``effort`` table,
    :func:`terrlib.stages.alignment.effort_vs_strategy`) time furthest off the strategy."""
    section = "Performance against what the territory allows"
    if missing(effects):
        return [Decision("Reps to recognise or coach", effects.headline, section)]
    t = effects.table
    off = set()
    if effort is not None and "effort_index" in effort and len(effort):
        off = set(furthest_off_strategy(effort)["rep_id"].astype(str))
    out = []
    for rating, verb, side in (
        ("top performer", "Recognise", "more"),
        ("needs help", "Coach", "less"),
    ):
        for r in t[t["rating"] == rating].itertuples():
            sure = "over 99.9%" if r.false_sign < 0.001 else f"{1 - r.false_sign:.1%}"
            also = ""
            says = getattr(r, "raw_attainment_says", "")
            if says == "flattered by the territory":
                also += (
                    f" Their {r.attainment_4q:.0%} of quota overstates them: the territory "
                    "flatters them."
                )
            elif says == "hidden by the territory":
                also += (
                    f" Their {r.attainment_4q:.0%} of quota understates them: the territory "
                    "holds them back."
                )
            if verb == "Recognise" and str(r.rep_id) in off:
                also += (
                    " Stage 1 finds their time among the furthest from the strategy's "
                    "priority industries: recognise the selling, and steer the time."
                )
            out.append(
                Decision(
                    "Reps to recognise or coach",
                    f"{verb} {r.rep_name} ({r.territory_id}): books {_times(r.multiplier)} "
                    "what a typical rep would on the same deals (95% interval "
                    f"{_times(r.multiplier_low)} to {_times(r.multiplier_high)}; {sure} likely "
                    f"to book {side} than a typical rep, from {r.decided_deals:,} decided "
                    f"deals).{also}",
                    section,
                )
            )
    if not out:
        out.append(
            Decision(
                "Reps to recognise or coach",
                "No rep is credibly above or below the team on the deals their territory "
                "brings: recognise or coach on other grounds than these numbers.",
                section,
            )
        )
    return out
