"""Stage 3, ideal customer profile: which accounts are most valuable, most likely to buy, to
buy again or to leave, and how long their deals take.

Every model is checked on time: it is fitted on what closed before a holdout window and scored
on what closed inside it, and nothing dated after the quarter under review is used.

* propensity to win: logistic regression (statsmodels) of opportunity outcome on industry,
  size band, region, metro/rural and engagement (activities on the account in the 90 days
  before the decision);
* value: Gamma GLM (log link) of won deal size on size and industry; annual value = expected
  opportunities a year x propensity x expected deal size;
* repeat purchase and churn: logistic regression of "buys again within four quarters" on
  recency, frequency, spend, tenure and the trend of engagement;
* sales cycle: Kaplan-Meier curves (open opportunities censored) and a Cox model;
* ICP score = annual value x (for customers) the chance of buying again; tiers from the plan.

Examples
--------
>>> import pandas as pd
>>> opps = pd.DataFrame({"stage": ["won", "lost", "won", "won"], "g": ["a", "a", "b", "b"]})
>>> win_rates(opps, "g")["win_rate"].tolist()
[0.5, 1.0]
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy.stats import mannwhitneyu
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight
from statsmodels.stats.proportion import proportion_confint

from terrlib import fitting, results
from terrlib.inputs.coverage import size_bands
from terrlib.inputs.dataset import Dataset
from terrlib.periods import quarter_bounds, trailing_bounds
from terrlib.results import Result
from terrlib.stages.measures import density_segment


def win_rates(decided: pd.DataFrame, by: str) -> pd.DataFrame:
    """Win rate per group with a 95% Wilson interval; ``decided`` has a ``stage`` column of
    won/lost rows and the grouping column ``by``."""
    won = decided["stage"].eq("won")
    table = (
        won.groupby(decided[by])
        .agg(["sum", "size"])
        .rename(columns={"sum": "won", "size": "decided"})
    )
    low, high = proportion_confint(table["won"], table["decided"], alpha=0.05, method="wilson")
    table["win_rate"] = table["won"] / table["decided"]
    table["ci_low"], table["ci_high"] = low, high
    return table.reset_index()


def decided_opportunities(data: Dataset, quarter: str, quarters: int = 8) -> pd.DataFrame:
    """Won and lost opportunities closed in the ``quarters`` ending with ``quarter``, with the
    account's industry and size band."""
    start, end = trailing_bounds(quarter, quarters, data.fiscal_start)
    opps = data.opportunities
    decided = opps[opps["stage"].isin(["won", "lost"]) & opps["close_date"].between(start, end)]
    acc = data.accounts.set_index("account_id")
    band = size_bands(data.plan, acc["employees"])
    return decided.assign(
        industry=decided["account_id"].map(acc["industry"]),
        size_band=decided["account_id"].map(band),
    )


def win_rate_profile(data: Dataset, quarter: str, by: str = "industry") -> Result:
    """Win rate by industry (or size band) over the last eight quarters, with intervals."""
    decided = decided_opportunities(data, quarter)
    table = win_rates(decided, by).sort_values("win_rate", ascending=False)
    overall = decided["stage"].eq("won").mean()
    top = table.iloc[0]
    rest = decided[decided[by] != top[by]]["stage"].eq("won").mean()
    headline = (
        f"Over the last eight quarters {len(decided):,} opportunities were decided and "
        f"{overall:.0%} were won. {top[by]} wins {top['win_rate']:.0%} (95% interval "
        f"{top['ci_low']:.0%} to {top['ci_high']:.0%}), {top['win_rate'] / rest:.1f} times the "
        f"rate of the rest ({rest:.0%})."
    )
    return Result(
        f"Win rate by {by.replace('_', ' ')}",
        headline,
        table.reset_index(drop=True),
        formats={"win_rate": "{:.0%}", "ci_low": "{:.0%}", "ci_high": "{:.0%}"},
        notes="win rate: won / (won + lost) among opportunities closed in the window; "
        "interval: 95% Wilson score interval.",
    )


# ----------------------------------------------------------------------------- model checks


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney probability that a random positive scores
    above a random negative).

    Examples
    --------
    >>> auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    y = np.asarray(y, bool)
    if y.all() or not y.any():
        return float("nan")
    u = mannwhitneyu(np.asarray(score)[y], np.asarray(score)[~y]).statistic
    return float(u / (y.sum() * (~y).sum()))


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 5) -> pd.DataFrame:
    """Predicted against observed rates by quantile bin of the prediction."""
    frame = pd.DataFrame({"y": np.asarray(y, float), "p": np.asarray(p, float)})
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), bins, labels=False) + 1
    table = frame.groupby("bin").agg(
        n=("y", "size"), predicted=("p", "mean"), observed=("y", "mean")
    )
    return table.reset_index()


def _odds_sentences(model, what: str, labels: dict[str, str]) -> list[str]:
    """Plain-words odds ratios for the terms whose 95% interval excludes 1, e.g.
    ``Manufacturing accounts have 2.5 times the odds of closing (95% CI 2.0 to 3.0)``."""
    ci = np.exp(model.conf_int())
    out = []
    for term, value in np.exp(model.params).items():
        if term == "Intercept" or not (ci.loc[term, 0] > 1 or ci.loc[term, 1] < 1):
            continue
        name = labels.get(term) or term.split("[T.")[-1].rstrip("]") + " accounts"
        out.append(
            f"{name} have {value:.1f} times the odds of {what} (95% CI "
            f"{ci.loc[term, 0]:.1f} to {ci.loc[term, 1]:.1f})"
        )
    return out


# Too little data in the training window to fit a model honestly (one class for every stage)
InsufficientData = results.InsufficientData


# ----------------------------------------------------------------------------- propensity


def opportunity_frame(data: Dataset) -> pd.DataFrame:
    """Decided opportunities with the account's firmographics and engagement before the
    decision (activities on the account in the 90 days before close)."""
    opps = data.opportunities[data.opportunities["stage"].isin(["won", "lost"])].copy()
    acc = data.accounts.set_index("account_id")
    geo = density_segment(data.accounts, data.plan).set_axis(acc.index)
    opps["industry"] = opps["account_id"].map(acc["industry"])
    opps["size_band"] = opps["account_id"].map(size_bands(data.plan, acc["employees"]))
    opps["region"] = opps["account_id"].map(acc["region"])
    opps["geography"] = opps["account_id"].map(geo)
    opps["log_employees"] = np.log(opps["account_id"].map(acc["employees"]).clip(lower=1))
    opps["engagement"] = _activity_counts(data, opps["account_id"], opps["close_date"], 90)
    opps["won"] = opps["stage"].eq("won").astype(int)
    return opps


def _activity_counts(data: Dataset, accounts: pd.Series, at: pd.Series, days: int) -> np.ndarray:
    """Activities on each account in the ``days`` up to each date, vectorised: (account, day)
    pairs are encoded as one sorted integer key and counted with two binary searches.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> acts = pd.DataFrame({"account_id": ["a", "a", "b"],
    ...                      "activity_date": pd.to_datetime(["2024-01-01", "2024-03-01",
    ...                                                       "2024-03-01"])})
    >>> _activity_counts(SimpleNamespace(activities=acts), pd.Series(["a", "b", "c"]),
    ...                  pd.Series(pd.to_datetime(["2024-03-15"] * 3)), 90).tolist()
    [2, 1, 0]
    """
    acts = data.activities
    codes = pd.Index(pd.unique(pd.concat([acts["account_id"], accounts]).dropna()))
    span = 1 << 20  # days per account block, far beyond any date range
    day = acts["activity_date"].to_numpy("datetime64[D]").astype(np.int64)
    keys = np.sort(codes.get_indexer(acts["account_id"]) * span + day)
    q_day = pd.to_datetime(at).to_numpy("datetime64[D]").astype(np.int64)
    q = codes.get_indexer(accounts) * span + q_day
    keys, q = keys.astype(np.int64), np.asarray(q, np.int64)  # also with no activities at all
    return np.searchsorted(keys, q, side="right") - np.searchsorted(keys, q - days, side="right")


def _references(frame: pd.DataFrame) -> str:
    return ", ".join(
        sorted(frame[c].dropna().unique())[0]
        for c in ("industry", "size_band", "region", "geography")
    )


PROPENSITY = "won ~ C(industry) + C(size_band) + C(region) + C(geography) + np.log1p(engagement)"


def propensity_model(data: Dataset, quarter: str) -> Result:
    """Logistic model of winning, fitted on opportunities closed before the holdout window
    (the plan's ``icp.holdout_quarters`` ending with ``quarter``) and checked inside it.

    ``result.model`` is refitted on everything closed up to the quarter end, for scoring;
    ``result.calibration`` holds the holdout calibration table and ``result.auc`` the AUC.

    Raises
    ------
    InsufficientData
        With fewer than ``icp.min_training_opportunities`` decided opportunities to train on.
    """
    frame = opportunity_frame(data)
    hold_start, _ = trailing_bounds(quarter, data.plan.icp.holdout_quarters, data.fiscal_start)
    train = frame[frame["close_date"] < hold_start]
    test = frame[frame["close_date"] >= hold_start]
    need = data.plan.icp.min_training_opportunities
    if len(train) < need or train["won"].nunique() < 2:
        raise InsufficientData(
            f"at least {need} decided opportunities (won and lost) closed before "
            f"{hold_start.date()}, the start of its {data.plan.icp.holdout_quarters}-quarter "
            "holdout",
            f"{len(train):,}",
            "A report for a later quarter, or a lower icp.min_training_opportunities in the "
            "plan, would fit it.",
        )
    checked = fitting.logit(PROPENSITY, train, "the propensity model").model
    final_fit = fitting.logit(PROPENSITY, frame, "the propensity model")
    final = final_fit.model
    p = fitting.predict(checked, test)
    result_auc = auc(test["won"], p)
    calib = calibration_table(test["won"], p)
    words = _odds_sentences(
        final,
        "closing",
        {"np.log1p(engagement)": "Accounts with e times the activity before the decision"},
    )
    headline = (
        f"Fitted on {len(train):,} opportunities closed before {hold_start.date()} and checked "
        f"on the {len(test):,} closed since, the model ranks wins above losses with an AUC of "
        f"{result_auc:.2f} (0.5 is chance); predicted and observed win rates agree within "
        f"{(calib['predicted'] - calib['observed']).abs().max():.0%} in every fifth of the "
        f"holdout. Against the reference levels ({_references(frame)}): "
        + ("; ".join(words[:4]) + "." if words else "no factor stands out.")
        + final_fit.note()
    )
    ci = np.exp(final.conf_int())
    table = pd.DataFrame(
        {
            "odds_ratio": np.exp(final.params),
            "ci_low": ci[0],
            "ci_high": ci[1],
            "p_value": final.pvalues,
        }
    ).drop(index="Intercept")
    table.index = [t.replace("C(", "").replace(")[T.", ": ").rstrip("]") for t in table.index]
    result = Result(
        "Propensity to win",
        headline,
        table.reset_index(names="term"),
        formats={
            "odds_ratio": "{:.2f}",
            "ci_low": "{:.2f}",
            "ci_high": "{:.2f}",
            "p_value": "{:.3f}",
        },
        notes="odds ratio: how many times the odds of winning multiply against the "
        "reference level (first alphabetically); 95% confidence intervals.",
    )
    result.model, result.auc, result.calibration = final, result_auc, calib
    result.sentences = words
    return result


# ----------------------------------------------------------------------------- value

VALUE = "amount ~ log_employees + C(industry)"


def value_model(data: Dataset, quarter: str) -> Result:
    """Gamma GLM (log link) of won deal size, checked on the holdout window.

    ``result.model`` is refitted on all won deals up to the quarter end."""
    frame = opportunity_frame(data)
    won = frame[frame["won"] == 1]
    hold_start, _ = trailing_bounds(quarter, data.plan.icp.holdout_quarters, data.fiscal_start)
    train, test = won[won["close_date"] < hold_start], won[won["close_date"] >= hold_start]
    if len(train) < 30:
        raise InsufficientData(
            f"at least 30 won deals before {hold_start.date()}",
            f"{len(train):,}",
            "A report for a later quarter would fit it.",
        )
    family = sm.families.Gamma(sm.families.links.Log())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checked = smf.glm(VALUE, train, family=family).fit()
        final = smf.glm(VALUE, won, family=family).fit()
    pred = fitting.predict(checked, test)
    rho = float(
        pd.Series(pred.to_numpy()).corr(test["amount"].reset_index(drop=True), method="spearman")
    )
    ratio = float(pred.sum() / test["amount"].sum())
    slope = final.params["log_employees"]
    lo, hi = final.conf_int().loc["log_employees"]
    headline = (
        f"Deal size grows {slope:.2f}% for each 1% more employees (95% CI {lo:.2f} to "
        f"{hi:.2f}). On the holdout the model ranks deal sizes with a Spearman correlation of "
        f"{rho:.2f} and its total is {ratio:.0%} of what was actually won."
    )
    table = pd.DataFrame(
        {
            "multiplier": np.exp(final.params),
            "ci_low": np.exp(final.conf_int()[0]),
            "ci_high": np.exp(final.conf_int()[1]),
        }
    )
    result = Result(
        "Expected deal size (Gamma GLM)",
        headline,
        table.reset_index(names="term"),
        formats={"multiplier": "{:.2f}", "ci_low": "{:.2f}", "ci_high": "{:.2f}"},
        notes="multiplier: factor on the expected deal size (per e-fold of "
        "employees for log_employees, against the reference industry otherwise).",
    )
    result.model, result.spearman, result.total_ratio = final, rho, ratio
    return result


# ----------------------------------------------------------------------------- repeat, churn


def repeat_features(
    purchases: pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon_days: int,
    activities: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Customer features at ``cutoff`` and whether they buy again within ``horizon_days``.

    ``purchases`` has ``customer``, ``date`` and ``amount``; ``activities`` (optional) has
    ``customer``, ``date`` and optionally a ``weight`` per activity (summed instead of
    counted). Only records dated on or before ``cutoff`` build the features.

    Examples
    --------
    >>> buys = pd.DataFrame({"customer": ["a", "a", "b"], "amount": [10.0, 20.0, 5.0],
    ...                      "date": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-02-01"])})
    >>> f = repeat_features(buys, pd.Timestamp("2024-02-15"), 30)
    >>> f[["frequency", "recency_days", "buys_again"]].to_dict("list")
    {'frequency': [1, 1], 'recency_days': [45, 14], 'buys_again': [1, 0]}
    """
    past = purchases[purchases["date"] <= cutoff]
    future = purchases[
        (purchases["date"] > cutoff)
        & (purchases["date"] <= cutoff + pd.Timedelta(days=horizon_days))
    ]
    g = past.groupby("customer")
    feats = pd.DataFrame(
        {
            "frequency": g["date"].nunique(),
            "recency_days": (cutoff - g["date"].max()).dt.days,
            "tenure_days": (cutoff - g["date"].min()).dt.days,
            "monetary": g["amount"].mean(),
        }
    )
    if activities is not None:
        acts = activities[activities["date"] <= cutoff]
        if "weight" not in acts:
            acts = acts.assign(weight=1.0)
        recent_rows = acts[acts["date"] > cutoff - pd.Timedelta(days=182)]
        before_rows = acts[
            (acts["date"] <= cutoff - pd.Timedelta(days=182))
            & (acts["date"] > cutoff - pd.Timedelta(days=364))
        ]
        recent = recent_rows.groupby("customer")["weight"].sum()
        before = before_rows.groupby("customer")["weight"].sum()
        feats["activity_recent"] = recent.reindex(feats.index).fillna(0).astype(float)
        feats["activity_trend"] = np.log1p(feats["activity_recent"]) - np.log1p(
            before.reindex(feats.index).fillna(0).astype(float)
        )
    feats["buys_again"] = feats.index.isin(future["customer"]).astype(int)
    return feats.reset_index(names="customer")


REPEAT = (
    "buys_again ~ np.log1p(frequency) + np.log1p(recency_days) + np.log1p(tenure_days) + "
    "np.log1p(monetary)"
)


def repeat_model(
    purchases: pd.DataFrame,
    train_cutoff: pd.Timestamp,
    test_cutoff: pd.Timestamp,
    horizon_days: int,
    activities: pd.DataFrame | None = None,
) -> dict:
    """Fit "buys again within the horizon" on customers at ``train_cutoff`` (labels observed
    by ``train_cutoff + horizon``, which must not pass ``test_cutoff``) and check it on
    customers at ``test_cutoff``.

    Returns a dict with ``model``, ``auc``, ``calibration``, ``brier``, ``predicted`` and
    ``actual`` (repeat buyers in the test window) and the test frame with predictions."""
    if train_cutoff + pd.Timedelta(days=horizon_days) > test_cutoff:
        raise ValueError("training labels would overlap the test window")
    formula = REPEAT
    if activities is not None:
        formula += " + np.log1p(activity_recent) + activity_trend"
    train = repeat_features(purchases, train_cutoff, horizon_days, activities)
    test = repeat_features(purchases, test_cutoff, horizon_days, activities)
    if len(train) < 50 or train["buys_again"].nunique() < 2:
        raise InsufficientData(
            f"at least 50 customers at {train_cutoff.date()}, some buying again within "
            f"{horizon_days} days and some not",
            f"{len(train):,}",
            "More history would fit it.",
        )
    fit = fitting.logit(formula, train, "the repeat-purchase model")
    model = fit.model
    test["p_repeat"] = model.predict(test)
    return {
        "model": model,
        "auc": auc(test["buys_again"], test["p_repeat"]),
        "brier": float(((test["p_repeat"] - test["buys_again"]) ** 2).mean()),
        "calibration": calibration_table(test["buys_again"], test["p_repeat"]),
        "predicted": float(test["p_repeat"].sum()),
        "actual": int(test["buys_again"].sum()),
        "test": test,
        "formula": fit.formula,
    }


def _purchases(data: Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Won deals as purchases, and activities weighted by the account's planned touches in six
    months (so ``activity_recent`` reads as the share of the coverage model delivered)."""
    won = data.opportunities[data.opportunities["stage"] == "won"]
    purchases = won.rename(columns={"account_id": "customer", "close_date": "date"})[
        ["customer", "date", "amount"]
    ]
    acc = data.accounts.set_index("account_id")
    calls = size_bands(data.plan, acc["employees"]).map(
        {k: v.calls_per_year for k, v in data.plan.coverage.by_size_band.items()}
    )
    acts = data.activities.rename(columns={"account_id": "customer", "activity_date": "date"})[
        ["customer", "date"]
    ]
    acts["weight"] = 2.0 / acts["customer"].map(calls).clip(lower=1).to_numpy()
    return purchases, acts


def churn_model(data: Dataset, quarter: str) -> Result:
    """Repeat purchase and churn for existing customers (see :func:`repeat_model`): trained at
    the quarter end two years back, checked at the end of the quarter a year back, then
    refitted a year back to score today's customers for the next four quarters.

    ``result.scores`` holds each customer's chance of buying again and churn risk.
    """
    _, end = quarter_bounds(data.quarter(quarter), data.fiscal_start)
    year = pd.Timedelta(days=365)
    purchases, acts = _purchases(data)
    formula = REPEAT + " + np.log1p(activity_recent) + activity_trend"
    try:
        check = repeat_model(purchases, end - 2 * year, end - year, year.days, acts)
    except InsufficientData as exc:
        check, unchecked = None, exc
    train = repeat_features(purchases, end - year, year.days, acts)
    if len(train) < 50 or train["buys_again"].nunique() < 2:
        raise InsufficientData(
            f"at least 50 customers a year before the quarter end ({(end - year).date()}), "
            "some buying again within the year and some not",
            f"{len(train):,}",
            "A report for a later quarter would fit it.",
        )
    fit = fitting.logit(formula, train, "the repeat-purchase model")
    model = fit.model
    today = repeat_features(purchases, end, year.days, acts).drop(columns="buys_again")
    today["p_repeat"] = model.predict(today)
    today["churn_risk"] = 1 - today["p_repeat"]
    ci = np.exp(model.conf_int())
    term = "np.log1p(activity_recent)"
    if check is not None:
        checked = (
            f"Checked on time, the model ranks customers who bought again within a year above "
            f"those who did not with an AUC of {check['auc']:.2f} and expected "
            f"{check['predicted']:,.0f} repeat buyers against {check['actual']:,} actual."
        )
    else:
        checked = (
            "Not checked on time: the check trains two years before the quarter and needs "
            f"{unchecked.needs} (the data has {unchecked.has})."
        )
    engagement = ""
    if term in model.params:
        ratio = (
            f"{np.exp(model.params[term]):.2f} (95% CI {ci.loc[term, 0]:.2f} to "
            f"{ci.loc[term, 1]:.2f})"
        )
        engagement = (
            " Low engagement precedes churn: each e-fold (x2.7) more of the planned touches "
            f"delivered in the last six months multiplies the odds of buying again by {ratio}."
            if ci.loc[term, 0] > 1
            else " The data does not show that engagement changes the chance of buying again: "
            f"each e-fold more of the planned touches multiplies its odds by {ratio}."
        )
    headline = (
        checked
        + engagement
        + f" Today's customers have on average a {today['p_repeat'].mean():.0%} chance of "
        "buying again in the next four quarters." + fit.note()
    )
    table = pd.DataFrame(
        {"odds_ratio": np.exp(model.params), "ci_low": ci[0], "ci_high": ci[1]}
    ).drop(index="Intercept")
    result = Result(
        "Repeat purchase and churn",
        headline,
        table.reset_index(names="term"),
        formats={"odds_ratio": "{:.2f}", "ci_low": "{:.2f}", "ci_high": "{:.2f}"},
        notes="odds ratio per e-fold (x2.7) of each log-transformed signal; "
        "activity_trend: log of activities in the last six months over the six "
        "before (0 = steady).",
    )
    result.model, result.check = model, check
    result.sentence = engagement.strip() or checked
    result.scores = today.rename(columns={"customer": "account_id"})
    return result


def retention_curves(data: Dataset, by: str = "size_band", quarters: int = 8) -> pd.DataFrame:
    """Share of customers still buying k quarters after their first purchase, by segment: a
    customer counts as retained at k when they buy again at or after k quarters."""
    purchases, _ = _purchases(data)
    acc = data.accounts.set_index("account_id")
    seg = size_bands(data.plan, acc["employees"]) if by == "size_band" else acc[by]
    g = purchases.groupby("customer")["date"]
    first, last = g.min(), g.max()
    end = data.cutoff or purchases["date"].max()
    rows = []
    for k in range(1, quarters + 1):
        horizon = pd.Timedelta(days=int(91.3 * k))
        eligible = first[first + horizon <= end].index
        if len(eligible) == 0:
            continue
        kept = (last[eligible] - first[eligible]) >= horizon
        frame = pd.DataFrame({"segment": seg.reindex(eligible).to_numpy(), "kept": kept.to_numpy()})
        for name, grp in frame.groupby("segment"):
            rows.append(
                {
                    "segment": name,
                    "quarters": k,
                    "retained": grp["kept"].mean(),
                    "customers": len(grp),
                }
            )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- sales cycle


def cycle_survival(data: Dataset, by: str = "size_band") -> Result:
    """Kaplan-Meier curves of days from created to close (won or lost), open opportunities
    censored at the cut-off; ``result.curves`` per group and ``result.cox`` the Cox model."""
    opps = data.opportunities.copy()
    end = data.cutoff or opps["close_date"].max()
    acc = data.accounts.set_index("account_id")
    closed = opps["stage"].isin(["won", "lost"])
    opps["days"] = np.where(
        closed,
        (opps["close_date"] - opps["created_date"]).dt.days,
        (end - opps["created_date"]).dt.days,
    ).clip(min=1)
    opps["event"] = closed.astype(int)
    opps["size_band"] = opps["account_id"].map(size_bands(data.plan, acc["employees"]))
    opps["industry"] = opps["account_id"].map(acc["industry"])
    opps["log_employees"] = np.log(opps["account_id"].map(acc["employees"]).clip(lower=1))
    curves, rows = [], []
    for name, grp in opps.groupby(by):
        sf = SurvfuncRight(grp["days"], grp["event"])
        curves.append(
            pd.DataFrame({"group": name, "days": sf.surv_times, "still_open": sf.surv_prob})
        )
        rows.append(
            {
                by: name,
                "opportunities": len(grp),
                "open": int((grp["event"] == 0).sum()),
                "median_days": sf.quantile(0.5),
                "p75_days": sf.quantile(0.75),
            }
        )
    cox = PHReg.from_formula("days ~ log_employees + C(industry)", opps, status=opps["event"]).fit()
    hr = np.exp(cox.params)
    ci = np.exp(cox.conf_int())
    names = list(cox.model.exog_names)
    i = names.index("log_employees")
    table = pd.DataFrame(rows)
    headline = (
        f"Half of all opportunities are decided within {table['median_days'].median():.0f} days "
        f"(open ones counted as still running). Larger accounts take longer: each e-fold more "
        f"employees multiplies the daily chance of a decision by {hr[i]:.2f} (95% CI "
        f"{ci[i, 0]:.2f} to {ci[i, 1]:.2f}); median cycle runs from "
        f"{table['median_days'].min():.0f} to {table['median_days'].max():.0f} days across "
        f"{by.replace('_', ' ')}s."
    )
    result = Result(
        f"Sales cycle by {by.replace('_', ' ')} (Kaplan-Meier)",
        headline,
        table,
        formats={"median_days": "{:.0f}", "p75_days": "{:.0f}"},
        notes="median_days: days by which half the opportunities are decided; "
        "open opportunities are censored at the cut-off (Kaplan-Meier). Cox hazard "
        "ratio below 1: a slower decision.",
    )
    result.curves = pd.concat(curves, ignore_index=True)
    result.cox = pd.DataFrame(
        {"term": names, "hazard_ratio": hr, "ci_low": ci[:, 0], "ci_high": ci[:, 1]}
    )
    return result


# ----------------------------------------------------------------------------- ICP score


def icp_scores(
    data: Dataset, quarter: str, propensity: Result, value: Result, churn: Result
) -> Result:
    """Per account: propensity to win, expected deal, opportunities a year, annual value,
    churn risk (customers), ICP score and tier (cut-offs in the plan's ``icp.tiers``)."""
    acc = data.accounts.copy()
    start, end = trailing_bounds(quarter, 8, data.fiscal_start)
    geo = density_segment(acc, data.plan)
    frame = pd.DataFrame(
        {
            "account_id": acc["account_id"],
            "account_name": acc["account_name"],
            "territory_id": acc["territory_id"],
            "industry": acc["industry"],
            "size_band": size_bands(data.plan, acc["employees"]),
            "region": acc["region"],
            "geography": geo,
            "log_employees": np.log(acc["employees"].clip(lower=1)),
        }
    )
    frame["engagement"] = _activity_counts(
        data, acc["account_id"], pd.Series(end, index=acc.index), 90
    )
    decided = data.opportunities[data.opportunities["stage"].isin(["won", "lost"])]
    won_all = decided[decided["stage"] == "won"]
    stand_ins = []
    if results.missing(propensity):
        frame["propensity"] = (decided["stage"] == "won").mean() if len(decided) else np.nan
        stand_ins.append("the company's win rate for every account (no propensity model)")
    else:
        frame["propensity"] = fitting.predict(propensity.model, frame).to_numpy()
    if results.missing(value):
        frame["expected_deal"] = won_all["amount"].median() if len(won_all) else np.nan
        stand_ins.append("the median won deal for every account (no deal-size model)")
    else:
        frame["expected_deal"] = fitting.predict(value.model, frame).to_numpy()
    opps = data.opportunities[data.opportunities["created_date"].between(start, end)]
    counts = opps.groupby("account_id").size().reindex(acc["account_id"]).fillna(0).to_numpy()
    rate = pd.DataFrame(
        {"n": counts, "log_employees": frame["log_employees"], "industry": frame["industry"]}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        poisson = smf.glm(
            "n ~ log_employees + C(industry)", rate, family=sm.families.Poisson()
        ).fit()
    # a rate a year over the part of the two years the data covers (a short history is not
    # read as fewer opportunities)
    first = data.opportunities["created_date"].min()
    years = 2.0 if first <= start else max((end - first).days + 1, 1) / 365.25
    frame["opportunities_per_year"] = poisson.predict(rate).to_numpy() / years
    frame["annual_value"] = (
        frame["opportunities_per_year"] * frame["propensity"] * frame["expected_deal"]
    )
    if results.missing(churn):
        frame["customer"] = frame["account_id"].isin(won_all["account_id"])
        frame["churn_risk"] = np.nan
        stand_ins.append("no churn risk for customers (no repeat-purchase model)")
    else:
        ch = churn.scores.set_index("account_id")
        frame["customer"] = frame["account_id"].isin(ch.index)
        frame["churn_risk"] = frame["account_id"].map(ch["churn_risk"])
    frame["score"] = frame["annual_value"] * np.where(
        frame["customer"], 1 - frame["churn_risk"].fillna(0), 1.0
    )
    rank = frame["score"].rank(ascending=False, method="first") / len(frame)
    tiers = data.plan.icp.tiers
    labels = data.plan.tier_names()
    frame["tier"] = pd.cut(rank, [0, *tiers.values(), 1.0], labels=labels).astype(str)
    won = won_all[won_all["close_date"].between(*trailing_bounds(quarter, 4, data.fiscal_start))]
    frame["bookings_4q"] = (
        frame["account_id"].map(won.groupby("account_id")["amount"].sum()).fillna(0.0)
    )
    frame = frame.drop(columns=["log_employees"])
    lift = frame.groupby("tier").agg(
        accounts=("account_id", "size"),
        score=("score", "mean"),
        bookings_4q=("bookings_4q", "mean"),
        win_propensity=("propensity", "mean"),
    )
    lift = lift.reindex([t for t in labels if t in lift.index])  # top tier first
    lift["lift"] = lift["bookings_4q"] / frame["bookings_4q"].mean()
    a = frame[frame["tier"] == labels[0]]
    top_ind = a["industry"].value_counts(normalize=True).head(2)
    headline = (
        f"Tier {labels[0]} (top {list(tiers.values())[0]:.0%} of accounts by expected value) "
        f"booked {lift.loc[labels[0], 'lift']:.1f} times the average account in the last four "
        f"quarters. It is {a['size_band'].value_counts(normalize=True).idxmax()}-heavy "
        f"({a['size_band'].value_counts(normalize=True).max():.0%}), led by "
        + " and ".join(f"{k} ({v:.0%})" for k, v in top_ind.items())
        + f", {(a['geography'] == 'metro').mean():.0%} in metros, with a median of "
        f"{np.exp(np.log(acc.loc[a.index, 'employees']).median()):,.0f} employees."
        + (
            " Where the data was too thin for a model the score uses " + "; ".join(stand_ins) + "."
            if stand_ins
            else ""
        )
    )
    result = Result(
        "ICP score and tiers",
        headline,
        lift.reset_index(),
        formats={
            "score": "{:,.0f}",
            "bookings_4q": "{:,.0f}",
            "win_propensity": "{:.0%}",
            "lift": "{:.1f}",
        },
        notes="score: annual value (opportunities a year x propensity x expected "
        "deal) x the chance a customer buys again; lift: the tier's average bookings "
        "over the last four quarters / the average account's.",
    )
    result.scores = frame
    return result


def top_prospects(data: Dataset, scores: pd.DataFrame, n: int = 25) -> Result:
    """The highest-scoring accounts that are not customers yet, with territory and rep."""
    reps = data.reps.drop_duplicates("territory_id").set_index("territory_id")["rep_name"]
    won = data.opportunities.loc[data.opportunities["stage"] == "won", "account_id"]
    prospects = scores[~scores["account_id"].isin(won)].nlargest(n, "score").copy()
    prospects["rep_name"] = prospects["territory_id"].map(reps)
    cols = [
        "account_id",
        "account_name",
        "territory_id",
        "rep_name",
        "industry",
        "size_band",
        "propensity",
        "expected_deal",
        "annual_value",
        "tier",
    ]
    return Result(
        f"Top {n} prospects not yet customers",
        f"Together worth {prospects['annual_value'].sum() / 1e6:,.1f}M a year in "
        f"expected bookings; {(prospects['tier'] == 'A').sum()} are tier A.",
        prospects[cols].reset_index(drop=True),
        formats={"propensity": "{:.0%}", "expected_deal": "{:,.0f}", "annual_value": "{:,.0f}"},
    )


def summary(
    propensity: Result, value: Result, churn: Result, cycle: Result, scores: Result
) -> list[str]:
    """Four sentences that open the stage 3 page, with the findings in numbers."""
    lift = scores.table.set_index("tier")["lift"]
    first = lift.index[0]
    win = (
        propensity.headline
        if results.missing(propensity)
        else (propensity.sentences[0] + "; " if propensity.sentences else "")
        + f"the win model scores {propensity.auc:.2f} AUC on a later holdout."
    )
    size = value.headline if results.missing(value) else value.headline.split(". ")[0]
    cycle_text = cycle.headline if results.missing(cycle) else cycle.headline.split(": ")[-1]
    return [
        f"Tier {first} accounts booked {lift.iloc[0]:.1f} times the average account in the last "
        f"four quarters; the full profile and the top prospects follow.",
        win,
        size + "; " + cycle_text,
        churn.headline if results.missing(churn) else churn.sentence,
    ]
