"""Stage 3, ideal customer profile: which accounts are most valuable, most likely to buy, to
buy again or to leave, and how long their deals take.

Nothing dated after the quarter under review is used. The predictive models are checked on
time, each in its own way, and each result says when the data is too short for its check:

* propensity to win: logistic regression (statsmodels) of opportunity outcome on industry,
  size band, region, metro/rural, engagement at the opportunity's creation (activities on the
  account in the 90 days before it was created), prior ownership (the account had won a deal,
  and had won a product that sells with this one, closed before this opportunity was created)
  and the rep's record beyond what their deals' mix explains, shrunk toward the company's;
  fitted on what closed before a holdout window and checked inside it (AUC with a bootstrap
  interval, calibration). A level of industry, size band or region is compared with the rest
  of them. The headline states the terms the plan's strategy names (its priority industries,
  and size); any other term only when it survives a Benjamini-Hochberg adjustment for the
  other terms tested;
* deal size: Gamma GLM (log link) of won deal size on size and industry, checked on the
  holdout;
* repeat purchase and churn: logistic regression of "buys again within four quarters" on
  recency, frequency, spend, tenure and engagement over windows the data covers completely,
  trained two years back and checked a year back when the data reaches that far;
* ICP score: the bookings expected over the next four quarters, the chance of booking times
  the bookings expected when booking, from one model for customers and prospects trained a
  year back; checked by scoring the accounts as of four quarters back with only the data up to
  then and comparing with what they booked since, by tier and for customers and prospects;
* sales cycle: Kaplan-Meier curves (open opportunities censored) and a Cox model, which
  describe the history and are not checked on time.

A rate from fewer than :data:`MIN_DECIDED` cases is flagged "small sample" in its table and is
not stated as a finding.

Examples
--------
>>> import pandas as pd
>>> opps = pd.DataFrame({"stage": ["won", "lost", "won", "won"], "g": ["a", "a", "b", "b"]})
>>> win_rates(opps, "g")[["win_rate", "flag"]].values.tolist()
[[0.5, 'small sample'], [1.0, 'small sample']]
"""

from __future__ import annotations

import warnings
from itertools import permutations

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy.stats import mannwhitneyu, rankdata
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from terrlib import fitting, results
from terrlib.inputs.coverage import size_bands
from terrlib.inputs.dataset import Dataset
from terrlib.periods import quarter_bounds, trailing_bounds
from terrlib.results import NotEnoughData, Result
from terrlib.stages.measures import density_segment, prior_ownership

#: Fewer decided cases than this and a rate is flagged as a small sample, never a finding.
MIN_DECIDED = 30
SMALL_SAMPLE = "small sample"
#: Days by which a data set may start after a feature window does and still count as covering
#: it (an extract rarely has a record on its very first day; the same grace as a complete
#: quarter's, see :func:`terrlib.periods.latest_complete_quarter`).
GRACE_DAYS = 7

# Too little data in the training window to fit a model honestly (one class for every stage)
InsufficientData = results.InsufficientData


def small_sample(counts) -> np.ndarray:
    """``"small sample"`` where a count is below :data:`MIN_DECIDED`, else ``""``.

    Examples
    --------
    >>> small_sample([5, 30]).tolist()
    ['small sample', '']
    """
    return np.where(np.asarray(counts) < MIN_DECIDED, SMALL_SAMPLE, "")


def win_rates(decided: pd.DataFrame, by: str) -> pd.DataFrame:
    """Win rate per group with a 95% Wilson interval and a small-sample flag; ``decided`` has
    a ``stage`` column of won/lost rows and the grouping column ``by``."""
    won = decided["stage"].eq("won")
    table = (
        won.groupby(decided[by], observed=True)
        .agg(["sum", "size"])
        .rename(columns={"sum": "won", "size": "decided"})
    )
    low, high = proportion_confint(table["won"], table["decided"], alpha=0.05, method="wilson")
    table["win_rate"] = table["won"] / table["decided"]
    table["ci_low"], table["ci_high"] = low, high
    table["flag"] = small_sample(table["decided"])
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
    """Win rate by industry (or size band) over the last eight quarters, with intervals; the
    groups with fewer than :data:`MIN_DECIDED` decided opportunities are flagged and listed
    last, and the headline compares only the others.

    Raises
    ------
    InsufficientData
        When no opportunity was decided in the eight quarters.
    """
    decided = decided_opportunities(data, quarter)
    if decided.empty:
        raise InsufficientData(
            "decided (won or lost) opportunities in the eight quarters up to the quarter",
            "none",
            "A report for a later quarter would have them.",
        )
    table = win_rates(decided, by)
    table = table.sort_values(["flag", "win_rate"], ascending=[True, False])
    overall = decided["stage"].eq("won").mean()
    enough = table[table["flag"] == ""]
    headline = (
        f"Over the last eight quarters {len(decided):,} opportunities were decided and "
        f"{overall:.0%} were won."
    )
    if len(enough):
        top = enough.iloc[0]
        rest = decided[decided[by] != top[by]]["stage"].eq("won").mean()
        headline += (
            f" {top[by]} wins {top['win_rate']:.0%} (95% interval {top['ci_low']:.0%} to "
            f"{top['ci_high']:.0%}), {top['win_rate'] / rest:.1f} times the rate of the rest "
            f"({rest:.0%})."
        )
    small = int((table["flag"] != "").sum())
    if small:
        headline += (
            f" {small} {by.replace('_', ' ')} group(s) with fewer than {MIN_DECIDED} decided "
            "opportunities are flagged small sample and not compared."
        )
    return Result(
        f"Win rate by {by.replace('_', ' ')}",
        headline,
        table.reset_index(drop=True),
        formats={"win_rate": "{:.0%}", "ci_low": "{:.0%}", "ci_high": "{:.0%}"},
        notes="win rate: won / (won + lost) among opportunities closed in the window; "
        f"interval: 95% Wilson score interval; flag: fewer than {MIN_DECIDED} decided.",
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


def auc_interval(
    y: np.ndarray,
    score: np.ndarray,
    groups: np.ndarray | pd.Series | None = None,
    draws: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """95% percentile bootstrap interval of the AUC, resampling ``groups`` (accounts, so the
    deals of one account stay together) with replacement, or rows when no groups are given.

    Examples
    --------
    >>> y = np.array([0, 1] * 50)
    >>> auc_interval(y, y + 0.0)
    (1.0, 1.0)
    >>> low, high = auc_interval(y, np.random.default_rng(0).random(100))
    >>> bool(low < 0.5 < high)
    True
    """
    y, score = np.asarray(y, bool), np.asarray(score, float)
    codes = pd.factorize(pd.Series(groups))[0] if groups is not None else np.arange(len(y))
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    starts = np.cumsum(counts) - counts
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        pick = rng.integers(0, len(counts), len(counts))
        lengths = counts[pick]
        within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        rows = order[np.repeat(starts[pick], lengths) + within]
        yy = y[rows]
        n1 = int(yy.sum())
        n0 = len(yy) - n1
        if n1 and n0:
            ranks = rankdata(score[rows])
            values.append((ranks[yy].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
    if not values:
        return float("nan"), float("nan")
    low, high = np.quantile(values, [0.025, 0.975])
    return float(low), float(high)


def auc_words(value: float, low: float, high: float, what: str) -> str:
    """The AUC with its interval, saying "better than chance" only when the whole interval is
    above 0.5.

    Examples
    --------
    >>> auc_words(0.546, 0.505, 0.587, "wins")
    'ranks wins better than chance, if weakly: AUC 0.546 (95% interval 0.505 to 0.587)'
    >>> auc_words(0.55, 0.49, 0.60, "wins")
    'does not rank wins clearly better than chance: AUC 0.550 (95% interval 0.490 to 0.600)'
    """
    interval = f"AUC {value:.3f} (95% interval {low:.3f} to {high:.3f})"
    if low > 0.5:
        return f"ranks {what} better than chance{', if weakly' if value < 0.6 else ''}: {interval}"
    return f"does not rank {what} clearly better than chance: {interval}"


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 5) -> pd.DataFrame:
    """Predicted against observed rates by quantile bin of the prediction, with a small-sample
    flag on bins of fewer than :data:`MIN_DECIDED` cases."""
    frame = pd.DataFrame({"y": np.asarray(y, float), "p": np.asarray(p, float)})
    bins = max(1, min(bins, len(frame)))
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), bins, labels=False) + 1
    table = frame.groupby("bin").agg(
        n=("y", "size"), predicted=("p", "mean"), observed=("y", "mean")
    )
    table["flag"] = small_sample(table["n"])
    return table.reset_index()


def adjusted_p(p_values: pd.Series) -> pd.Series:
    """Benjamini-Hochberg adjusted p-values (a false discovery rate), in the order given: a
    term is stated as a finding only when its adjusted p-value is below 0.05.

    Examples
    --------
    >>> adjusted_p(pd.Series([0.01, 0.04, 0.03], index=list("abc"))).round(2).tolist()
    [0.03, 0.04, 0.04]
    """
    if p_values.empty:
        return p_values.astype(float)
    adjusted = multipletests(p_values.to_numpy(float), method="fdr_bh")[1]
    return pd.Series(adjusted, p_values.index)


def _complete(start: pd.Timestamp, first: pd.Timestamp | None) -> bool:
    """Whether a feature window starting on ``start`` lies inside data that begins on
    ``first`` (with :data:`GRACE_DAYS` of grace)."""
    return first is not None and pd.notna(first) and start >= first - pd.Timedelta(GRACE_DAYS, "D")


# ----------------------------------------------------------------------------- propensity


def product_pairs(
    won: pd.DataFrame,
    before: pd.Timestamp | None = None,
    min_lift: float = 1.5,
    min_accounts: int = 10,
) -> set[tuple[str, str]]:
    """Ordered product pairs ``(owned, other)`` that sell together: among the accounts that won
    a deal closed before ``before``, at least ``min_accounts`` own both and owners of ``owned``
    own ``other`` at least ``min_lift`` times as often as buying accounts in general (the rule
    of stage 2's cross-sell leads).

    Examples
    --------
    >>> won = pd.DataFrame({"account_id": [f"a{i // 2}" for i in range(40)]
    ...                                   + [f"b{i}" for i in range(40)],
    ...                     "product": ["x", "y"] * 20 + ["z"] * 40,
    ...                     "close_date": pd.Timestamp("2024-01-01")})
    >>> sorted(product_pairs(won))
    [('x', 'y'), ('y', 'x')]
    """
    if before is not None:
        won = won[won["close_date"] < before]
    owns = pd.crosstab(won["account_id"], won["product"]).gt(0)
    if owns.empty:
        return set()
    share = owns.mean()
    pairs = set()
    for a, b in permutations(owns.columns, 2):
        both = int((owns[a] & owns[b]).sum())
        if both >= min_accounts and both / owns[a].sum() >= min_lift * share[b]:
            pairs.add((str(a), str(b)))
    return pairs


def rep_effect(
    train: pd.DataFrame, expected: np.ndarray, later: pd.DataFrame | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Each deal's rep's record beyond what their deals' mix explains, as shrunk log-odds.

    ``expected`` is each training deal's chance of winning under the model without the rep
    term, so a rep with more deals in a strong industry is not credited for it. For a rep
    with wins ``O`` against ``E`` expected over deals of information ``V = sum p (1 - p)``,
    the effect is ``(O - E) / (V + 1 / tau2)``: one Newton step of a random rep intercept
    from 0, shrunk by ``tau2``, the variance of the reps' true effects (method of moments:
    ``sum((O - E)^2 - V) / sum(V^2)``). A deal of ``train`` leaves itself out of its rep's
    record (its outcome does not explain itself); a deal of ``later`` (a holdout) uses the
    rep's record in ``train``; a rep without one, or a company whose reps do not differ beyond
    chance, scores 0. One term however many reps, so a small company's fit stays stable.

    Examples
    --------
    >>> train = pd.DataFrame({"rep_id": ["a"] * 40 + ["b"] * 40,
    ...                       "won": [1] * 30 + [0] * 10 + [1] * 10 + [0] * 30})
    >>> fitted, later = rep_effect(train, np.full(80, 0.5), pd.DataFrame({"rep_id": ["a", "c"]}))
    >>> bool(fitted[0] > 0 > fitted[-1]), float(later[1])
    (True, 0.0)
    """
    won = train["won"].to_numpy(float)
    p = np.clip(np.asarray(expected, float), 1e-6, 1 - 1e-6)
    reps = train["rep_id"].astype(str).to_numpy()
    record = (
        pd.DataFrame({"rep": reps, "r": won - p, "v": p * (1 - p)}).groupby("rep")[["r", "v"]].sum()
    )
    tau2 = ((record["r"] ** 2 - record["v"]).sum() / (record["v"] ** 2).sum()) if len(record) else 0
    zeros_later = None if later is None else np.zeros(len(later))
    if len(record) < 2 or not tau2 > 0:
        return np.zeros(len(train)), zeros_later
    r = pd.Series(reps).map(record["r"]).to_numpy() - (won - p)
    v = pd.Series(reps).map(record["v"]).to_numpy() - p * (1 - p)
    fitted = r / (v + 1 / tau2)
    if later is None:
        return fitted, None
    shrunk = record["r"] / (record["v"] + 1 / tau2)
    return fitted, later["rep_id"].astype(str).map(shrunk).fillna(0.0).to_numpy(float)


def opportunity_frame(data: Dataset) -> pd.DataFrame:
    """Decided opportunities with the account's firmographics, engagement at the
    opportunity's creation (activities on the account in the 90 days before the day it was
    created: nothing after, which on CRM data would reflect the outcome) and ``prior_win``
    (the account had won a deal closed before it was created)."""
    opps = data.opportunities[data.opportunities["stage"].isin(["won", "lost"])].copy()
    acc = data.accounts.set_index("account_id")
    geo = density_segment(data.accounts, data.plan).set_axis(acc.index)
    opps["industry"] = opps["account_id"].map(acc["industry"])
    opps["size_band"] = opps["account_id"].map(size_bands(data.plan, acc["employees"]))
    opps["region"] = opps["account_id"].map(acc["region"])
    opps["geography"] = opps["account_id"].map(geo)
    opps["log_employees"] = np.log(opps["account_id"].map(acc["employees"]).clip(lower=1))
    day_before = opps["created_date"] - pd.Timedelta(days=1)
    opps["engagement"] = _activity_counts(data, opps["account_id"], day_before, 90)
    won = data.opportunities[data.opportunities["stage"] == "won"]
    opps["prior_win"] = prior_ownership(opps, won, set())["prior_win"]
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


#: The factors of the win model; a level is compared with the rest of its factor's levels
#: (their deal-weighted average; a factor of two levels: with the other level).
FACTORS = ("industry", "size_band", "region", "geography")


def odds_table(model, frame: pd.DataFrame) -> pd.DataFrame:
    """Odds ratios with 95% intervals and p-values for every term of a logistic ``model``
    fitted on ``frame``, where each level of a factor of :data:`FACTORS` with three or more
    levels is compared with the rest of its factor (so no level hides as the reference and
    no comparison leans on a small reference level): the contrast ``b_level - sum_k w_k b_k``
    over the fitted coefficients, ``w_k`` each other level's share of the other levels'
    deals."""
    ci = np.exp(model.conf_int())
    table = pd.DataFrame(
        {"odds_ratio": np.exp(model.params), "ci_low": ci[0], "ci_high": ci[1]}
    ).assign(p_value=model.pvalues)
    params = list(model.params.index)
    for factor in FACTORS:
        terms = [t for t in params if t.startswith(f"C({factor})[T.")]
        levels = sorted(frame[factor].dropna().astype(str).unique())
        if not terms or len(levels) < 3:
            continue
        share = frame[factor].astype(str).value_counts(normalize=True)
        rows, names = [], []
        for level in levels:
            row = np.zeros(len(params))
            rest = 1.0 - share.get(level, 0.0)
            for term in terms:
                other = _level(term)[1]
                if other != level and rest > 0:
                    row[params.index(term)] -= share.get(other, 0.0) / rest
            name = f"C({factor})[T.{level}]"
            if name in terms:
                row[params.index(name)] += 1
            rows.append(row)
            names.append(name)
        test = model.t_test(np.array(rows))
        bounds = np.exp(np.asarray(test.conf_int()))
        contrast = pd.DataFrame(
            {
                "odds_ratio": np.exp(np.asarray(test.effect)),
                "ci_low": bounds[:, 0],
                "ci_high": bounds[:, 1],
                "p_value": np.asarray(test.pvalue).ravel(),
            },
            index=names,
        )
        table = pd.concat([table.drop(index=terms), contrast])
    order = {t: i for i, t in enumerate(params)}
    table["_order"] = [
        order.get(t, order.get(next((p for p in params if p.startswith(t.split("[")[0])), ""), 0))
        for t in table.index
    ]
    return table.sort_values("_order", kind="stable").drop(columns="_order")


def _references(frame: pd.DataFrame) -> str:
    """The reference level of each two-level factor."""
    return ", ".join(
        f"{c.replace('_', ' ')} against {sorted(frame[c].dropna().astype(str).unique())[0]}"
        for c in FACTORS
        if frame[c].nunique() == 2
    )


#: The deal mix a rep's record is measured against (:func:`rep_effect`): what varies deal by
#: deal. Region, which every deal of a rep shares, and metro or rural, which a territory's
#: deals largely share, are left to the full model, where the rep term can explain them.
PROPENSITY_MIX = (
    "won ~ C(industry) + C(size_band) + np.log1p(engagement) + prior_win + prior_partner"
)
PROPENSITY = (
    "won ~ C(industry) + C(size_band) + C(region) + C(geography) + np.log1p(engagement) + "
    "prior_win + prior_partner + rep_effect"
)
#: At most this many of the other terms are stated (the strongest evidence first).
MAX_STATED = 4
#: The subject of a propensity sentence ("... have 1.3 times the odds of closing") for the
#: terms that are not a category level (:data:`TERM_WORDS` labels them in tables).
ODDS_SUBJECTS = {
    "np.log1p(engagement)": "Accounts with e (2.7) times the activity in the 90 days before "
    "the opportunity opened",
    "prior_win": "Accounts that had already won a deal",
    "prior_partner": "Opportunities for a product that sells with one the account already bought",
    "rep_effect": "Deals of a rep whose record beats their deals' mix by one unit of log-odds",
}


def _with_history(
    frame: pd.DataFrame, won: pd.DataFrame, before: pd.Timestamp | None
) -> tuple[pd.DataFrame, set[tuple[str, str]]]:
    """``frame`` with ``prior_partner`` from the product pairs learned on the deals won before
    ``before`` (all of them when ``None``), and the pairs."""
    pairs = product_pairs(won, before)
    return frame.assign(prior_partner=prior_ownership(frame, won, pairs)["prior_partner"]), pairs


def _term_name(term: str) -> str:
    """``C(industry)[T.Retail]`` as ``industry: Retail``."""
    return term.replace("C(", "").replace(")[T.", ": ").rstrip("]")


#: Business words for the model terms that are not a factor's level.
TERM_WORDS: dict[str, str] = {
    "Intercept": "baseline",
    "log_employees": "company size (per 2.7x the employees)",
    "np.log1p(engagement)": "engagement in the 90 days before (per 2.7x the touches)",
    "prior_win": "a deal won at the account before",
    "prior_partner": "the account bought a product often bought with this one",
    "np.log1p(activity_recent)": "touches in the last six months against the coverage plan "
    "(per 2.7x)",
    "activity_trend": "activity trend (last six months against the six before)",
    "rep_effect": "the rep's record (wins beyond what their deals' mix predicts)",
    "np.log1p(frequency)": "purchases so far (per 2.7x)",
    "np.log1p(recency_days)": "days since the last purchase (per 2.7x)",
    "np.log1p(tenure_days)": "days since the first purchase (per 2.7x)",
    "np.log1p(monetary)": "average purchase (per 2.7x)",
}


def term_label(term: str, reference: dict[str, str] | None = None) -> str:
    """A model term in business words: a factor's level against ``reference[factor]`` (the
    level the model left out) or, without one, against the rest of its factor; other terms
    from :data:`TERM_WORDS`, else as they are.

    Examples
    --------
    >>> term_label("C(industry)[T.Retail]", {"industry": "Agriculture"})
    'Retail against Agriculture (industry)'
    >>> term_label("C(size_band)[T.SMB]"), term_label("log_employees")
    ('SMB against the other size bands', 'company size (per 2.7x the employees)')
    """
    level = _level(term)
    if level is None:
        if term in TERM_WORDS:
            return TERM_WORDS[term]
        if term.startswith("np.log1p(") and term.endswith(")"):
            return term[9:-1].replace("_", " ") + " (per 2.7x)"
        return term.replace("_", " ")
    factor, value = level
    against = (reference or {}).get(factor)
    words = factor.replace("_", " ")
    if against:
        return f"{value} against {against} ({words})"
    return f"{value} against the other {_plural(words)}"


def _plural(noun: str) -> str:
    """``industries`` for ``industry``, ``size bands`` for ``size band``."""
    return noun[:-1] + "ies" if noun.endswith("y") else noun + "s"


def _left_out_levels(model) -> dict[str, str]:
    """The level a formula ``model`` left out of each of its factors: the one level of the
    factor in the data it was fitted on that has no term of its own (a fitted statsmodels
    formula model: a GLM, a logit or a Cox model)."""
    frame, named = model.model.data.frame, {}
    for term in model.model.exog_names:
        level = _level(term)
        if level is not None:
            named.setdefault(level[0], set()).add(level[1])
    out = {}
    for factor, levels in named.items():
        if factor in frame:
            left = set(frame[factor].dropna().astype(str)) - levels
            if len(left) == 1:
                out[factor] = left.pop()
    return out


def _level(term: str) -> tuple[str, str] | None:
    """``("industry", "Retail")`` for ``C(industry)[T.Retail]``, None for other terms."""
    if not term.startswith("C(") or "[T." not in term:
        return None
    return term[2 : term.index(")")], term.split("[T.", 1)[1].rstrip("]")


def _propensity_table(model, frame: pd.DataFrame, plan) -> pd.DataFrame:
    """Odds ratios with intervals, p-values, each term's role (pre-specified by the plan's
    strategy, or other), adjusted p-values for the other terms, and for category levels
    the decided deals behind them with a small-sample flag."""
    table = odds_table(model, frame).drop(index="Intercept")
    priority = set(plan.strategy.priority_industries)
    levels = {t: _level(t) for t in table.index}
    table["role"] = [
        "pre-specified"
        if lv and (lv[0] == "size_band" or (lv[0] == "industry" and lv[1] in priority))
        else "other"
        for lv in levels.values()
    ]
    other = table["role"] == "other"
    table["p_adjusted"] = adjusted_p(table.loc[other, "p_value"]).reindex(table.index)
    table["deals"] = [
        int((frame[lv[0]].astype(str) == lv[1]).sum()) if lv else len(frame)
        for lv in levels.values()
    ]
    table["flag"] = small_sample(table["deals"])
    return table


def _odds_sentence(term: str, row: pd.Series, adjusted: bool) -> str:
    """``Manufacturing accounts have 2.9 times the odds of closing (95% CI 2.3 to 3.6)``, with
    the adjusted p-value when ``adjusted``."""
    name = ODDS_SUBJECTS.get(term) or (_level(term) or ("", term))[1] + " accounts"
    p = ""
    if adjusted:
        p = (
            "; adjusted p < 0.001"
            if row["p_adjusted"] < 0.001
            else f"; adjusted p {row['p_adjusted']:.3f}"
        )
    return (
        f"{name} have {row['odds_ratio']:.2f} times the odds of closing (95% CI "
        f"{row['ci_low']:.2f} to {row['ci_high']:.2f}{p})"
    )


def _term_findings(table: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """Sentences for the pre-specified terms (each said, as a finding only when its interval
    excludes 1 and it rests on enough deals), the findings among them, and the other terms
    that survive the adjustment (and rest on enough deals), strongest evidence first."""
    said, found, others = [], [], []
    for term, row in table.iterrows():
        clear = row["ci_low"] > 1 or row["ci_high"] < 1
        if row["role"] == "pre-specified":
            level = (_level(term) or ("", term))[1]
            if row["flag"]:
                said.append(f"{level}: too few decided deals to say ({row['deals']})")
            elif clear:
                said.append(_odds_sentence(term, row, False))
                found.append(said[-1])
            else:
                said.append(
                    f"{level} {row['odds_ratio']:.2f} times (95% CI {row['ci_low']:.2f} to "
                    f"{row['ci_high']:.2f}, no clear difference)"
                )
        elif row["p_adjusted"] < 0.05 and not row["flag"]:
            others.append((row["p_adjusted"], _odds_sentence(term, row, True)))
    return said, found, [text for _, text in sorted(others, key=lambda o: o[0])]


def propensity_model(data: Dataset, quarter: str, seed: int = 0) -> Result:
    """Logistic model of winning, fitted on opportunities closed before the holdout window
    (the plan's ``icp.holdout_quarters`` ending with ``quarter``) and checked inside it.

    The check learns everything from the training window only: the product pairs behind
    ``prior_partner`` and the reps' records. ``result.model`` is refitted on everything closed
    up to the quarter end, for scoring; ``result.calibration`` holds the holdout calibration
    table, ``result.auc`` the AUC and ``result.auc_ci`` its bootstrap interval (accounts
    resampled, ``seed`` fixed), ``result.sentences`` the findings the headline states.

    Raises
    ------
    InsufficientData
        With fewer than ``icp.min_training_opportunities`` decided opportunities to train on,
        or fewer than :data:`MIN_DECIDED` of both outcomes in the holdout.
    """
    frame = opportunity_frame(data)
    won = data.opportunities[data.opportunities["stage"] == "won"]
    hold_start, _ = trailing_bounds(quarter, data.plan.icp.holdout_quarters, data.fiscal_start)
    early = frame["close_date"] < hold_start
    need = data.plan.icp.min_training_opportunities
    if early.sum() < need or frame.loc[early, "won"].nunique() < 2:
        raise InsufficientData(
            f"at least {need} decided opportunities (won and lost) closed before "
            f"{hold_start.date()}, the start of its {data.plan.icp.holdout_quarters}-quarter "
            "holdout",
            f"{early.sum():,}",
            "A report for a later quarter, or a lower icp.min_training_opportunities in the "
            "plan, would fit it.",
        )
    checked_frame, _ = _with_history(frame, won, hold_start)
    train, test = checked_frame[early].copy(), checked_frame[~early].copy()
    if min(test["won"].sum(), (1 - test["won"]).sum()) < MIN_DECIDED:
        raise InsufficientData(
            f"at least {MIN_DECIDED} won and {MIN_DECIDED} lost opportunities in the holdout "
            f"(closed from {hold_start.date()}) to check the model on",
            f"{int(test['won'].sum())} won and {int((1 - test['won']).sum())} lost",
            "A report for a later quarter would check it.",
        )
    mix = fitting.logit(PROPENSITY_MIX, train, "the propensity model").model
    train["rep_effect"], test["rep_effect"] = rep_effect(train, mix.predict(train), test)
    checked = fitting.logit(PROPENSITY, train, "the propensity model").model
    p = fitting.predict(checked, test)
    result_auc = auc(test["won"], p)
    auc_ci = auc_interval(test["won"], p, test["account_id"].astype(str), seed=seed)
    calib = calibration_table(test["won"], p)
    full, pairs = _with_history(frame, won, None)
    mix = fitting.logit(PROPENSITY_MIX, full, "the propensity model").model
    full["rep_effect"], _ = rep_effect(full, mix.predict(full))
    final_fit = fitting.logit(PROPENSITY, full, "the propensity model")
    table = _propensity_table(final_fit.model, full, data.plan)
    said, found, others = _term_findings(table)
    n_other = int((table["role"] == "other").sum())
    headline = (
        f"Fitted on {len(train):,} opportunities closed before {hold_start.date()} and checked "
        f"on the {len(test):,} closed since, the model "
        + auc_words(result_auc, *auc_ci, "wins above losses")
        + "; predicted and observed win rates agree within "
        f"{(calib['predicted'] - calib['observed']).abs().max() * 100:.0f} points in every "
        "fifth of the holdout. The strategy's segments and size, each against the rest of its "
        "factor: "
        + ("; ".join(said) if said else "none is in the data")
        + ". "
        + (
            f"Of the {n_other} other terms, {len(others)} survive the adjustment for testing "
            "them all"
            + (", the strongest: " if len(others) > MAX_STATED else ": ")
            + "; ".join(others[:MAX_STATED])
            + (
                f" ({len(others) - MAX_STATED} more in the table)"
                if len(others) > MAX_STATED
                else ""
            )
            + "."
            if others
            else f"None of the {n_other} other terms survives the adjustment for testing them all."
        )
        + final_fit.note()
    )
    # a level of a two-level factor is against the level left out, others against the rest
    two = {f: r for f, r in _left_out_levels(final_fit.model).items() if full[f].nunique() == 2}
    table.insert(0, "what", [term_label(t, two) for t in table.index])
    table.index = [_term_name(t) for t in table.index]
    result = Result(
        "Propensity to win",
        headline,
        table.reset_index(names="term"),
        hidden=["term"],
        formats={
            "odds_ratio": "{:.2f}",
            "ci_low": "{:.2f}",
            "ci_high": "{:.2f}",
            "p_value": "{:.3f}",
            "p_adjusted": "{:.3f}",
        },
        notes="odds ratio: how many times the odds of winning multiply, for a level of "
        "industry, size band or region against the rest of them (their deal-weighted average), "
        "for "
        f"a factor of two levels against the other ({_references(full)}), for a number per "
        "2.7 times as much (for a count or amount taken as its log) or per unit; 95% "
        "confidence intervals. Pre-specified: "
        "the plan's priority industries and the size bands, stated whatever they show; the "
        "other terms are stated only when their p-value adjusted for testing them all "
        "(Benjamini-Hochberg, a 5% false discovery rate) is below 0.05. "
        "engagement: activities in the 90 days before the opportunity was created; "
        "a deal won at the account before: one closed before the opportunity was created; "
        "a product often bought with this one: one of those was a product that sells with "
        "this one (product pairs learned from the won deals); the rep's record: the rep's wins "
        "beyond what their deals' mix predicts, as log-odds shrunk toward 0. flag: a category "
        "level with fewer than "
        f"{MIN_DECIDED} decided deals.",
    )
    result.model, result.auc, result.auc_ci, result.calibration = (
        final_fit.model,
        result_auc,
        auc_ci,
        calib,
    )
    result.sentences, result.pairs = found + others, pairs
    return result


# ----------------------------------------------------------------------------- value

VALUE = "amount ~ log_employees + C(industry)"


def _direction(lo: float, hi: float, up: str, down: str, neither: str) -> str:
    """``up`` when an interval lies above 0, ``down`` when below, ``neither`` otherwise."""
    return up if lo > 0 else down if hi < 0 else neither


def value_model(data: Dataset, quarter: str) -> Result:
    """Gamma GLM (log link) of won deal size, checked on the holdout window.

    ``result.model`` is refitted on all won deals up to the quarter end.

    Raises
    ------
    InsufficientData
        With fewer than 30 won deals before the holdout, or fewer than 10 inside it.
    """
    frame = opportunity_frame(data)
    won = frame[(frame["won"] == 1) & (frame["amount"] > 0)]
    hold_start, _ = trailing_bounds(quarter, data.plan.icp.holdout_quarters, data.fiscal_start)
    train, test = won[won["close_date"] < hold_start], won[won["close_date"] >= hold_start]
    if len(train) < 30 or len(test) < 10:
        raise InsufficientData(
            f"at least 30 won deals before {hold_start.date()} and 10 since, to check it on",
            f"{len(train):,} and {len(test):,}",
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
    interval = f"{slope:.2f}% for each 1% more employees (95% CI {lo:.2f} to {hi:.2f})"
    headline = (
        _direction(
            lo,
            hi,
            f"Deal size grows {interval}.",
            f"Deal size falls {interval}.",
            f"The data does not show deal size changing with account size: {interval}.",
        )
        + f" Checked on the holdout, the model ranks deal sizes with a Spearman correlation of "
        f"{rho:.2f} and its total is {ratio:.0%} of what was actually won."
    )
    table = pd.DataFrame(
        {
            "multiplier": np.exp(final.params),
            "ci_low": np.exp(final.conf_int()[0]),
            "ci_high": np.exp(final.conf_int()[1]),
        }
    ).drop(index="Intercept", errors="ignore")
    refs = _left_out_levels(final)
    table.insert(0, "what", [term_label(t, refs) for t in table.index])
    result = Result(
        "Expected deal size (Gamma GLM)",
        headline,
        table.reset_index(names="term"),
        formats={"multiplier": "{:.2f}", "ci_low": "{:.2f}", "ci_high": "{:.2f}"},
        hidden=["term"],
        notes="multiplier: factor on the expected deal size, per 2.7x the employees for "
        "company size, against the industry named for an industry.",
    )
    result.model, result.spearman, result.total_ratio = final, rho, ratio
    return result


# ----------------------------------------------------------------------------- repeat, churn

#: Engagement terms of the repeat model and the days of activity each looks back over.
ENGAGEMENT_WINDOWS = {"np.log1p(activity_recent)": 182, "activity_trend": 364}


def engagement_terms(cutoffs: list[pd.Timestamp], first_activity: pd.Timestamp | None) -> list:
    """The engagement terms whose window the activity data covers at every one of
    ``cutoffs``: a window that would start before the first activity would count fewer
    activities for no reason but the data's start (a trend that looks like rising
    engagement).

    Examples
    --------
    >>> first = pd.Timestamp("2024-01-01")
    >>> engagement_terms([pd.Timestamp("2024-09-30")], first)
    ['np.log1p(activity_recent)']
    >>> engagement_terms([pd.Timestamp("2025-09-30"), pd.Timestamp("2026-09-30")], first)
    ['np.log1p(activity_recent)', 'activity_trend']
    """
    return [
        term
        for term, days in ENGAGEMENT_WINDOWS.items()
        if all(_complete(c - pd.Timedelta(days=days), first_activity) for c in cutoffs)
    ]


def repeat_features(
    purchases: pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon_days: int,
    activities: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Customer features at ``cutoff`` and whether they buy again within ``horizon_days``.

    ``purchases`` has ``customer``, ``date`` and ``amount``; ``activities`` (optional) has
    ``customer``, ``date`` and optionally a ``weight`` per activity (summed instead of
    counted). Only records dated on or before ``cutoff`` build the features. The engagement
    columns look back 182 and 364 days: see :func:`engagement_terms` for when the data covers
    them.

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
    terms: list[str] | None = None,
) -> dict:
    """Fit "buys again within the horizon" on customers at ``train_cutoff`` (labels observed
    by ``train_cutoff + horizon``, which must not pass ``test_cutoff``) and check it on
    customers at ``test_cutoff``.

    With ``activities``, the engagement ``terms`` join the model (by default those whose
    windows the activities cover at both cutoffs, :func:`engagement_terms`).

    Returns a dict with ``model``, ``auc`` and ``auc_ci`` (bootstrap interval),
    ``calibration``, ``brier``, ``predicted`` and ``actual`` (repeat buyers in the test
    window), the test frame with predictions, the ``formula`` and the engagement terms
    ``left_out``.

    Raises
    ------
    InsufficientData
        With fewer than 50 customers at either cutoff, or one outcome only.
    """
    if train_cutoff + pd.Timedelta(days=horizon_days) > test_cutoff:
        raise ValueError("training labels would overlap the test window")
    if activities is not None and terms is None:
        first = activities["date"].min() if len(activities) else None
        terms = engagement_terms([train_cutoff, test_cutoff], first)
    terms = terms or []
    formula = REPEAT + "".join(f" + {t}" for t in terms)
    train = repeat_features(purchases, train_cutoff, horizon_days, activities)
    test = repeat_features(purchases, test_cutoff, horizon_days, activities)
    for frame, at in ((train, train_cutoff), (test, test_cutoff)):
        if len(frame) < 50 or frame["buys_again"].nunique() < 2:
            raise InsufficientData(
                f"at least 50 customers at {at.date()}, some buying again within "
                f"{horizon_days} days and some not",
                f"{len(frame):,}",
                "More history would fit it.",
            )
    fit = fitting.logit(formula, train, "the repeat-purchase model")
    model = fit.model
    test["p_repeat"] = model.predict(test)
    return {
        "model": model,
        "auc": auc(test["buys_again"], test["p_repeat"]),
        "auc_ci": auc_interval(test["buys_again"], test["p_repeat"], draws=500),
        "brier": float(((test["p_repeat"] - test["buys_again"]) ** 2).mean()),
        "calibration": calibration_table(test["buys_again"], test["p_repeat"]),
        "predicted": float(test["p_repeat"].sum()),
        "actual": int(test["buys_again"].sum()),
        "test": test,
        "formula": fit.formula,
        "left_out": [t for t in ENGAGEMENT_WINDOWS if t not in terms],
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


#: Days of purchase history a repeat model needs before the date it describes customers at
#: (recency, frequency and tenure read from less would describe the data's start).
HISTORY_DAYS = 182


def _short_history(at: pd.Timestamp, opened: pd.Timestamp) -> InsufficientData:
    """What a repeat model fitted at ``at`` needs when the data starts too late for it."""
    return InsufficientData(
        f"{HISTORY_DAYS} days of history before {at.date()}, where it describes customers",
        f"history from {pd.Timestamp(opened).date()}" if pd.notna(opened) else "no history",
        "A report for a later quarter would fit it.",
    )


def _engagement_words(model, terms: list[str], first_activity, earliest: pd.Timestamp) -> str:
    """What the data shows about engagement: "low engagement precedes churn" only when the
    interval of recent engagement lies above 1."""
    ci = np.exp(model.conf_int())
    said = []
    for term, up, down in (
        (
            "np.log1p(activity_recent)",
            "Low engagement precedes churn: each 2.7 times as many of the planned touches "
            "delivered in the last six months multiplies the odds of buying again by",
            "More engagement goes with less buying again here: each 2.7 times as many of "
            "the planned touches delivered in the last six months multiplies the odds by",
        ),
        (
            "activity_trend",
            "Falling engagement precedes churn: each 2.7-fold rise in touches against the six "
            "months before multiplies the odds of buying again by",
            "Rising engagement goes with less buying again here: each 2.7-fold rise in touches "
            "against the six months before multiplies the odds by",
        ),
    ):
        if term not in model.params:
            continue
        ratio = (
            f"{np.exp(model.params[term]):.2f} (95% CI {ci.loc[term, 0]:.2f} to "
            f"{ci.loc[term, 1]:.2f})"
        )
        what = "the last six months' engagement" if "recent" in term else "its trend"
        said.append(
            f"{up} {ratio}."
            if ci.loc[term, 0] > 1
            else f"{down} {ratio}."
            if ci.loc[term, 1] < 1
            else f"The data does not show that {what} changes the chance of buying again: "
            f"the odds ratio is {ratio}, an interval that includes 1."
        )
    if not terms:
        said.append(
            "Engagement is left out: there is no activity data."
            if first_activity is None
            else f"Engagement is left out: at {earliest.date()}, the earliest date the model "
            "is fitted or checked at, its six-month window would start before the activity "
            f"data does ({first_activity.date()})."
        )
    return " ".join(said)


def churn_model(data: Dataset, quarter: str) -> Result:
    """Repeat purchase and churn for existing customers (see :func:`repeat_model`): trained at
    the quarter end two years back, checked at the end of the quarter a year back, then
    refitted a year back to score today's customers for the next four quarters. The model
    checked is the model used: the engagement terms are those whose windows the activity data
    covers at every cutoff involved.

    ``result.scores`` holds each customer's chance of buying again and churn risk.

    Raises
    ------
    InsufficientData
        With fewer than 50 customers a year before the quarter end, or one outcome only.
    """
    _, end = quarter_bounds(data.quarter(quarter), data.fiscal_start)
    year, half = pd.Timedelta(days=365), pd.Timedelta(days=HISTORY_DAYS)
    purchases, acts = _purchases(data)
    first = acts["date"].min() if len(acts) else None
    acts_used = acts if len(acts) else None
    opened = data.opportunities["created_date"].min()
    terms = engagement_terms([end - 2 * year, end - year, end], first)
    try:
        if not _complete(end - 2 * year - half, opened):
            raise _short_history(end - 2 * year, opened)
        check = repeat_model(purchases, end - 2 * year, end - year, year.days, acts_used, terms)
    except InsufficientData as exc:
        check, unchecked = None, exc
        terms = engagement_terms([end - year, end], first)
    if not _complete(end - year - half, opened):
        raise _short_history(end - year, opened)
    train = repeat_features(purchases, end - year, year.days, acts_used)
    if len(train) < 50 or train["buys_again"].nunique() < 2:
        raise InsufficientData(
            f"at least 50 customers a year before the quarter end ({(end - year).date()}), "
            "some buying again within the year and some not",
            f"{len(train):,}",
            "A report for a later quarter would fit it.",
        )
    fit = fitting.logit(
        REPEAT + "".join(f" + {t}" for t in terms), train, "the repeat-purchase model"
    )
    model = fit.model
    today = repeat_features(purchases, end, year.days, acts_used).drop(columns="buys_again")
    today["p_repeat"] = model.predict(today)
    today["churn_risk"] = 1 - today["p_repeat"]
    if check is not None:
        checked = (
            "Checked on time (trained two years back, scored a year back), the model "
            + auc_words(
                check["auc"],
                *check["auc_ci"],
                "customers who bought again within a year above those who did not",
            )
            + f", and expected {check['predicted']:,.0f} repeat buyers against "
            f"{check['actual']:,} actual."
        )
    else:
        checked = (
            "Not checked on time: the check trains two years before the quarter and needs "
            f"{unchecked.needs} (the data has {unchecked.has})."
        )
    engagement = _engagement_words(
        model, terms, first, end - (2 if check is not None else 1) * year
    )
    headline = (
        checked
        + " "
        + engagement
        + f" Today's customers have on average a {today['p_repeat'].mean():.0%} chance of "
        "buying again in the next four quarters." + fit.note()
    )
    ci = np.exp(model.conf_int())
    table = pd.DataFrame(
        {"odds_ratio": np.exp(model.params), "ci_low": ci[0], "ci_high": ci[1]}
    ).drop(index="Intercept")
    table.insert(0, "what", [term_label(t) for t in table.index])
    result = Result(
        "Repeat purchase and churn",
        headline,
        table.reset_index(names="term"),
        hidden=["term"],
        formats={"odds_ratio": "{:.2f}", "ci_low": "{:.2f}", "ci_high": "{:.2f}"},
        notes="odds ratio per 2.7x of each signal so marked; touches in the last six "
        "months are counted against the coverage model's; activity trend: log of activities "
        "in the last six months over the six before (0 = steady). An engagement term is "
        "used only when the activity data covers its window at every cutoff the model is "
        "trained, checked and scored at.",
    )
    result.model, result.check, result.terms = model, check, terms
    result.sentence = engagement or checked
    result.scores = today.rename(columns={"customer": "account_id"})
    return result


def retention_curves(data: Dataset, by: str = "size_band", quarters: int = 8) -> pd.DataFrame:
    """Share of customers still buying k quarters after their first purchase, by segment: a
    customer counts as retained at k when they buy again at or after k quarters. Shares from
    fewer than :data:`MIN_DECIDED` customers are flagged small sample.

    Raises
    ------
    InsufficientData
        When no customer's first purchase is a quarter or more before the cut-off.
    """
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
    if not rows:
        raise InsufficientData(
            "customers whose first purchase was a quarter or more before the quarter end",
            "none",
            "A report for a later quarter would have them.",
        )
    table = pd.DataFrame(rows)
    table["flag"] = small_sample(table["customers"])
    return table


# ----------------------------------------------------------------------------- sales cycle


def cycle_survival(data: Dataset, by: str = "size_band") -> Result:
    """Kaplan-Meier curves of days from created to close (won or lost), open opportunities
    censored at the cut-off; ``result.curves`` per group, ``result.cox`` the Cox model's hazard
    ratios (each term with its business words, :func:`term_label`) and ``result.drivers``
    them as a table for the page.
    These describe the history; they are not a forecast and are not checked on time.

    Raises
    ------
    InsufficientData
        With fewer than :data:`MIN_DECIDED` decided opportunities.
    """
    opps = data.opportunities.copy()
    closed = opps["stage"].isin(["won", "lost"])
    if closed.sum() < MIN_DECIDED:
        raise InsufficientData(
            f"at least {MIN_DECIDED} decided opportunities", f"{closed.sum():,}", "More history."
        )
    end = data.cutoff or opps["close_date"].max()
    acc = data.accounts.set_index("account_id")
    opps["days"] = np.where(
        closed,
        (opps["close_date"] - opps["created_date"]).dt.days,
        (end - opps["created_date"]).dt.days,
    ).clip(min=1)
    opps["event"] = closed.astype(int)
    opps["size_band"] = opps["account_id"].map(size_bands(data.plan, acc["employees"]))
    opps["industry"] = opps["account_id"].map(acc["industry"])
    opps["log_employees"] = np.log(opps["account_id"].map(acc["employees"]).clip(lower=1))
    opps = opps.dropna(subset=[by, "log_employees"])
    curves, rows = [], []
    for name, grp in opps.groupby(by, observed=True):
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
                "flag": small_sample(int(grp["event"].sum())).item(),
            }
        )
    cox = PHReg.from_formula("days ~ log_employees + C(industry)", opps, status=opps["event"]).fit()
    hr = np.exp(cox.params)
    ci = np.exp(cox.conf_int())
    names = list(cox.model.exog_names)
    i = names.index("log_employees")
    table = pd.DataFrame(rows)
    ratio = f"{hr[i]:.2f} (95% CI {ci[i, 0]:.2f} to {ci[i, 1]:.2f})"
    size_words = _direction(
        -np.log(ci[i, 1]),
        -np.log(ci[i, 0]),
        "Larger accounts take longer: each 2.7 times the employees multiplies the daily chance "
        f"of a decision by {ratio}",
        f"Larger accounts decide sooner: each 2.7 times the employees multiplies the daily "
        f"chance of a decision by {ratio}",
        f"The data does not show cycle length changing with account size: the daily chance "
        f"of a decision changes by {ratio} per 2.7 times the employees",
    )
    shown = table[table["flag"] == ""]
    spread = (
        f"; median cycle runs from {shown['median_days'].min():.0f} to "
        f"{shown['median_days'].max():.0f} days across {_plural(by.replace('_', ' '))}"
        if len(shown) > 1
        else ""
    )
    # pooled over every opportunity, not a median of the groups' medians
    pooled = SurvfuncRight(opps["days"], opps["event"]).quantile(0.5)
    headline = (
        f"Half of all opportunities are decided within {pooled:.0f} days "
        f"(open ones counted as still running). {size_words}{spread}."
    )
    result = Result(
        f"Sales cycle by {by.replace('_', ' ')}",
        headline,
        table,
        formats={"median_days": "{:.0f}", "p75_days": "{:.0f}"},
        notes="days until half are decided: the median over the group's opportunities, "
        "open ones counted as still running at the cut-off (the Kaplan-Meier method, so an "
        "open deal is neither dropped nor counted as closed); days until three in four "
        f"are decided: the same at three in four. flag: fewer than {MIN_DECIDED} decided. "
        "Descriptive: not checked on time.",
    )
    result.curves = pd.concat(curves, ignore_index=True)
    refs = _left_out_levels(cox)
    result.cox = pd.DataFrame(
        {
            "term": names,
            "what": [term_label(t, refs) for t in names],
            "hazard_ratio": hr,
            "ci_low": ci[:, 0],
            "ci_high": ci[:, 1],
        }
    )
    result.drivers = Result(
        "What shortens or lengthens cycles",
        "Each factor multiplies the daily chance that an open opportunity is decided: below "
        "1 means slower decisions, above 1 faster ones (from a proportional-hazards model, "
        "against the industry named).",
        result.cox,
        formats={"hazard_ratio": "{:.2f}", "ci_low": "{:.2f}", "ci_high": "{:.2f}"},
        hidden=["term"],
        notes="hazard_ratio: factor on the daily chance that an open opportunity is decided, "
        "per 2.7x the employees for company size, against the industry named otherwise.",
    )
    return result


# ----------------------------------------------------------------------------- ICP score

#: The ICP score's horizon and the window its features look back over, in quarters.
HORIZON_QUARTERS = 4
WINDOW_QUARTERS = 2
#: The next-year bookings model: behaviour over the window, and firmographics.
NEXT_YEAR_TERMS = {
    "log_employees": None,
    "C(industry)": None,
    "np.log1p(won_recent)": "opportunities",
    "np.log1p(opps_recent)": "opportunities",
    "np.log1p(open_now)": None,
    "np.log1p(acts_recent)": "activities",
}


def account_features(data: Dataset, q: pd.Period) -> pd.DataFrame:
    """Each account that exists at the end of quarter ``q``, with what the data shows by then
    over the :data:`WINDOW_QUARTERS` ending with ``q`` (bookings won, opportunities opened,
    activities), its open opportunities at the end of ``q``, whether it is a customer (won a
    deal by then), and its bookings over the :data:`HORIZON_QUARTERS` after ``q`` as far as
    ``data`` knows them (``booked_next``, ``buys``)."""
    start, end = trailing_bounds(q, WINDOW_QUARTERS, data.fiscal_start)
    _, horizon_end = quarter_bounds(q + HORIZON_QUARTERS, data.fiscal_start)
    acc = data.accounts[data.accounts["created_date"] <= end]
    opps, acts = data.opportunities, data.activities
    won = opps[opps["stage"] == "won"]

    def per_account(rows: pd.DataFrame, column: str | None = None) -> np.ndarray:
        grouped = rows.groupby(rows["account_id"].astype(str))
        counts = grouped.size() if column is None else grouped[column].sum()
        return acc["account_id"].astype(str).map(counts).fillna(0).to_numpy(float)

    frame = pd.DataFrame(
        {
            "account_id": acc["account_id"].to_numpy(),
            "industry": acc["industry"].to_numpy(),
            "log_employees": np.log(acc["employees"].clip(lower=1)).to_numpy(),
        }
    )
    frame["customer"] = per_account(won[won["close_date"] <= end]) > 0
    frame["won_recent"] = per_account(won[won["close_date"].between(start, end)], "amount")
    frame["opps_recent"] = per_account(opps[opps["created_date"].between(start, end)])
    still_open = (opps["created_date"] <= end) & ~(opps["close_date"] <= end)
    frame["open_now"] = per_account(opps[still_open])
    frame["acts_recent"] = per_account(acts[acts["activity_date"].between(start, end)])
    later = won["close_date"].gt(end) & won["close_date"].le(horizon_end)
    frame["booked_next"] = per_account(won[later], "amount")
    frame["buys"] = (frame["booked_next"] > 0).astype(int)
    return frame


def next_year_model(data: Dataset, q: pd.Period) -> dict:
    """The model behind the ICP score, as of the end of quarter ``q``: trained on the
    accounts as they were :data:`HORIZON_QUARTERS` earlier and what they booked since. A
    logistic regression gives the chance of booking anything in the next four quarters, a
    Gamma GLM (log link) the bookings when booking; the same terms for customers and
    prospects.

    Raises
    ------
    InsufficientData
        When a feature window of the training accounts would start before the data does, or
        fewer than :data:`MIN_DECIDED` accounts booked (or did not).
    """
    train_q = q - HORIZON_QUARTERS
    window_start, _ = trailing_bounds(train_q, WINDOW_QUARTERS, data.fiscal_start)
    starts = {
        "opportunities": data.opportunities["created_date"].min(),
        "activities": data.activities["activity_date"].min(),
    }
    if not _complete(window_start, starts["opportunities"]):
        raise InsufficientData(
            f"opportunities from {window_start.date()} on: it learns from the accounts as of "
            f"{train_q} (their last {WINDOW_QUARTERS} quarters) and what they booked in the "
            f"{HORIZON_QUARTERS} quarters after",
            f"opportunities from {pd.Timestamp(starts['opportunities']).date()}"
            if pd.notna(starts["opportunities"])
            else "no opportunities by then",
            "A report for a later quarter would fit it.",
        )
    terms = [
        t
        for t, table in NEXT_YEAR_TERMS.items()
        if table is None or _complete(window_start, starts[table])
    ]
    train = account_features(data, train_q)
    buyers = int(train["buys"].sum())
    if min(buyers, len(train) - buyers) < MIN_DECIDED:
        raise InsufficientData(
            f"at least {MIN_DECIDED} accounts that booked in the four quarters after {train_q} "
            f"and {MIN_DECIDED} that did not",
            f"{buyers} and {len(train) - buyers}",
            "A report for a later quarter would fit it.",
        )
    buy = fitting.logit("buys ~ " + " + ".join(terms), train, "the next-year bookings model")
    booked = train[train["buys"] == 1]
    kept, _ = fitting.estimable_terms("booked_next ~ " + " + ".join(terms), booked)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = smf.glm(
                "booked_next ~ " + (" + ".join(kept) or "1"),
                booked,
                family=sm.families.Gamma(sm.families.links.Log()),
            ).fit()
    except (ValueError, np.linalg.LinAlgError):
        raise InsufficientData(
            "bookings the size model can be fitted on", "a fit that fails", "More history."
        ) from None
    return {"buy": buy, "value": value, "trained_at": train_q, "terms": terms}


def score_accounts(model: dict, data: Dataset, q: pd.Period) -> pd.DataFrame:
    """:func:`account_features` at the end of ``q`` with ``p_buy`` (the chance of booking in
    the next four quarters), ``value_if_buying`` and ``score`` = ``p_buy x value_if_buying``,
    the bookings expected over the next four quarters."""
    frame = account_features(data, q)
    frame["p_buy"] = fitting.predict(model["buy"].model, frame).to_numpy()
    frame["value_if_buying"] = fitting.predict(model["value"], frame).to_numpy()
    frame["score"] = frame["p_buy"] * frame["value_if_buying"]
    return frame


def assign_tiers(score: pd.Series, plan) -> pd.Series:
    """Tiers from the plan's cut-offs on the rank of ``score`` (top tier first).

    Examples
    --------
    >>> from terrlib.inputs.plan import Plan
    >>> assign_tiers(pd.Series(range(10)), Plan()).tolist()
    ['D', 'D', 'D', 'D', 'C', 'C', 'C', 'B', 'B', 'A']
    """
    rank = score.rank(ascending=False, method="first") / len(score)
    labels = plan.tier_names()
    return pd.cut(rank, [0, *plan.icp.tiers.values(), 1.0], labels=labels).astype(str)


def _ratio_interval(
    booked: np.ndarray, predicted: np.ndarray, draws: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% bootstrap interval (accounts resampled) of ``sum(booked) / sum(predicted)``."""
    rng = np.random.default_rng(seed)
    n = len(booked)
    if n == 0:
        return float("nan"), float("nan")
    ratios = np.empty(draws)
    for i in range(draws):
        pick = rng.integers(0, n, n)
        ratios[i] = booked[pick].sum() / max(predicted[pick].sum(), 1e-9)
    low, high = np.quantile(ratios, [0.025, 0.975])
    return float(low), float(high)


def score_check(data: Dataset, quarter: str | pd.Period) -> pd.DataFrame:
    """The ICP score checked on time: accounts scored as of :data:`HORIZON_QUARTERS` before
    ``quarter`` with only the data up to then (``data.as_of``), tiered, and compared with what
    they booked over the next four quarters. One row per tier, then customers, prospects and
    all accounts: accounts, those that booked, predicted and booked totals, booked / predicted
    with a 95% bootstrap interval, the booked lift per account against the average, and a
    small-sample flag (fewer than :data:`MIN_DECIDED` accounts booked).

    Raises
    ------
    InsufficientData
        When the score cannot be made as of that quarter (see :func:`next_year_model`).
    """
    q = data.quarter(quarter)
    past = q - HORIZON_QUARTERS
    then = data.as_of(past)
    scored = score_accounts(next_year_model(then, past), then, past)
    actual = account_features(data, past).set_index("account_id")["booked_next"]
    scored["booked"] = scored["account_id"].map(actual).fillna(0.0).to_numpy()
    scored["tier"] = assign_tiers(scored["score"], data.plan).to_numpy()
    mean_booked = scored["booked"].mean()
    groups = [(t, scored["tier"] == t) for t in data.plan.tier_names()]
    groups += [
        ("customers", scored["customer"]),
        ("prospects", ~scored["customer"]),
        ("all", pd.Series(True, index=scored.index)),
    ]
    rows = []
    for name, mask in groups:
        part = scored[mask.to_numpy()]
        low, high = _ratio_interval(part["booked"].to_numpy(), part["score"].to_numpy())
        rows.append(
            {
                "group": name,
                "accounts": len(part),
                "booked_accounts": int((part["booked"] > 0).sum()),
                "predicted": part["score"].sum(),
                "booked": part["booked"].sum(),
                "ratio": part["booked"].sum() / part["score"].sum() if len(part) else np.nan,
                "ci_low": low,
                "ci_high": high,
                "lift": part["booked"].mean() / mean_booked if mean_booked else np.nan,
            }
        )
    table = pd.DataFrame(rows)
    table["flag"] = small_sample(table["booked_accounts"])
    table.attrs["as_of"] = str(past)
    return table


def _profile(
    data: Dataset, end: pd.Timestamp, propensity: Result, value: Result, churn: Result
) -> tuple[pd.DataFrame, list[str]]:
    """Per account, the profile the other models give: its chance of winning an opportunity
    opened now (the win model with the last 90 days' activity, its prior wins, a product not
    yet paired and an average rep), its expected deal and, for customers, churn risk; with
    the stand-ins used where a model is missing."""
    acc = data.accounts
    frame = pd.DataFrame(
        {
            "account_id": acc["account_id"],
            "account_name": acc["account_name"],
            "territory_id": acc["territory_id"],
            "industry": acc["industry"],
            "size_band": size_bands(data.plan, acc["employees"]),
            "region": acc["region"],
            "geography": density_segment(acc, data.plan),
            "log_employees": np.log(acc["employees"].clip(lower=1)),
        }
    )
    decided = data.opportunities[data.opportunities["stage"].isin(["won", "lost"])]
    won_all = decided[decided["stage"] == "won"]
    frame["customer"] = frame["account_id"].isin(won_all["account_id"])
    now = frame.assign(
        engagement=_activity_counts(data, acc["account_id"], pd.Series(end, index=acc.index), 90),
        prior_win=frame["customer"].astype(int),
        prior_partner=0,
        rep_effect=0.0,
    )
    stand_ins = []
    if results.missing(propensity):
        frame["propensity"] = (decided["stage"] == "won").mean() if len(decided) else np.nan
        stand_ins.append("the company's win rate for every account (no propensity model)")
    else:
        frame["propensity"] = fitting.predict(propensity.model, now).to_numpy()
    if results.missing(value):
        frame["expected_deal"] = won_all["amount"].median() if len(won_all) else np.nan
        stand_ins.append("the median won deal for every account (no deal-size model)")
    else:
        frame["expected_deal"] = fitting.predict(value.model, frame).to_numpy()
    if results.missing(churn):
        frame["churn_risk"] = np.nan
    else:
        frame["churn_risk"] = frame["account_id"].map(
            churn.scores.set_index("account_id")["churn_risk"]
        )
    return frame, stand_ins


def _stand_in_score(data: Dataset, quarter: str, frame: pd.DataFrame) -> np.ndarray:
    """Where the next-year model cannot be trained: opportunities a year for an account of
    its size and industry (a Poisson GLM over the history there is, up to two years) x its
    win propensity x its expected deal, alike for customers and prospects.

    Raises
    ------
    InsufficientData
        When no opportunity was opened in the two years.
    """
    start, end = trailing_bounds(quarter, 8, data.fiscal_start)
    opps = data.opportunities[data.opportunities["created_date"].between(start, end)]
    if opps.empty:
        raise InsufficientData(
            "opportunities opened in the two years up to the quarter", "none", "More history."
        )
    counts = opps.groupby("account_id").size().reindex(frame["account_id"]).fillna(0).to_numpy()
    rate = frame[["log_employees", "industry"]].assign(n=counts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        poisson = smf.glm(
            "n ~ log_employees + C(industry)", rate, family=sm.families.Poisson()
        ).fit()
    first = data.opportunities["created_date"].min()
    years = 2.0 if first <= start else max((end - first).days + 1, 1) / 365.25
    per_year = poisson.predict(rate).to_numpy() / years
    return per_year * frame["propensity"].to_numpy() * frame["expected_deal"].to_numpy()


def _check_words(
    check: pd.DataFrame | None, gap: InsufficientData | None, first: str, lift: float
) -> str:
    """The top tier's bookings and the check in words: with the check, what the top tier
    and customers and prospects went on to book against the score (a ratio from a small
    sample is not stated); without it, the last four quarters' lift, which the score draws
    on, and what the check needs."""
    if check is None:
        return (
            f" In the last four quarters, which the score draws on, it booked {lift:.1f} times "
            "the average account. Not checked on time: the check scores the accounts as of "
            f"four quarters back, and that score needs {gap.needs} (the data has {gap.has})."
        )
    rows = check.set_index("group")

    def ratio(name: str) -> str:
        r = rows.loc[name]
        if r["flag"]:
            return f"for {name} too few booked to say ({r['booked_accounts']})"
        return f"{name} booked {r['ratio']:.2f} times ({r['ci_low']:.2f} to {r['ci_high']:.2f})"

    return (
        f" Checked on time, scored as of {check.attrs['as_of']} with only the data up to then, "
        f"tier {first} went on to book {rows.loc[first, 'lift']:.1f} times the average account "
        f"over the next four quarters; {ratio('customers')} and {ratio('prospects')} what "
        "the score predicted (95% intervals)."
    )


def _tier_table(frame: pd.DataFrame, labels: list[str], check: pd.DataFrame | None):
    """Per tier (top first): accounts, mean score, mean bookings over the last four quarters,
    mean win propensity, lift, and the check on time beside them (``check_*``)."""
    lift = frame.groupby("tier").agg(
        accounts=("account_id", "size"),
        score=("score", "mean"),
        bookings_4q=("bookings_4q", "mean"),
        win_propensity=("propensity", "mean"),
    )
    lift = lift.reindex([t for t in labels if t in lift.index])  # top tier first
    lift["lift"] = lift["bookings_4q"] / frame["bookings_4q"].mean()
    if check is not None:
        by_tier = check.set_index("group").reindex(lift.index)
        for column in ("ratio", "ci_low", "ci_high", "lift", "flag"):
            name = {"ci_low": "check_low", "ci_high": "check_high"}.get(column, f"check_{column}")
            lift[name] = by_tier[column]
    return lift


def icp_scores(
    data: Dataset, quarter: str, propensity: Result, value: Result, churn: Result
) -> Result:
    """Per account: the ICP score, the bookings expected over the next four quarters (the
    chance of booking x the bookings expected when booking, :func:`next_year_model`, one
    formula for customers and prospects), its tier (cut-offs in the plan's ``icp.tiers``),
    and the profile the other models give (win propensity, expected deal, churn risk).

    ``result.check`` is the score checked on time (:func:`score_check`) as a result, or what
    the check needs. Where the next-year model cannot be trained the score is a stand-in
    (:func:`_stand_in_score`) and the headline says so.

    Raises
    ------
    InsufficientData
        When there are no accounts, or no opportunity to score them on.
    """
    q = data.quarter(quarter)
    _, end = quarter_bounds(q, data.fiscal_start)
    if data.accounts.empty:
        raise InsufficientData("accounts", "none")
    frame, stand_ins = _profile(data, end, propensity, value, churn)
    try:
        scored = score_accounts(next_year_model(data, q), data, q).set_index("account_id")
        for column in ("p_buy", "value_if_buying", "score"):
            frame[column] = frame["account_id"].map(scored[column]).fillna(0.0).to_numpy()
    except InsufficientData as exc:
        frame["p_buy"], frame["value_if_buying"] = np.nan, np.nan
        frame["score"] = _stand_in_score(data, quarter, frame)
        stand_ins.append(
            "opportunities a year x win propensity x expected deal instead of the next-year "
            f"bookings model, which needs {exc.needs}"
        )
    if frame["score"].notna().sum() == 0:
        raise InsufficientData("decided opportunities to score the accounts on", "none")
    labels = data.plan.tier_names()
    frame["tier"] = assign_tiers(frame["score"], data.plan).to_numpy()
    won = data.opportunities[
        (data.opportunities["stage"] == "won")
        & data.opportunities["close_date"].between(*trailing_bounds(q, 4, data.fiscal_start))
    ]
    frame["bookings_4q"] = frame["account_id"].map(won.groupby("account_id")["amount"].sum())
    frame["bookings_4q"] = frame["bookings_4q"].fillna(0.0)
    try:
        check, gap = score_check(data, q), None
    except InsufficientData as exc:
        check, gap = None, exc
    lift = _tier_table(frame, labels, check)
    a = frame[frame["tier"] == labels[0]]
    employees = data.accounts.set_index("account_id")["employees"]
    top_ind = a["industry"].value_counts(normalize=True).head(2)
    bands = a["size_band"].value_counts(normalize=True)
    words = _check_words(check, gap, labels[0], lift.loc[labels[0], "lift"])
    sentence = (
        f"Tier {labels[0]} is the top {list(data.plan.icp.tiers.values())[0]:.0%} of accounts "
        "by bookings expected over the next four quarters." + words
    )
    headline = (
        sentence
        + f" It is {bands.idxmax()}-heavy ({bands.max():.0%}), led by "
        + " and ".join(f"{k} ({v:.0%})" for k, v in top_ind.items())
        + f", {(a['geography'] == 'metro').mean():.0%} in metros, with a median of "
        f"{np.exp(np.log(employees.reindex(a['account_id']).clip(lower=1)).median()):,.0f} "
        "employees."
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
            "check_ratio": "{:.2f}",
            "check_low": "{:.2f}",
            "check_high": "{:.2f}",
            "check_lift": "{:.1f}",
        },
        notes="score: bookings expected over the next four quarters = the chance of booking "
        "x the bookings expected when booking, from one model for customers and prospects "
        f"(size, industry, and the last {WINDOW_QUARTERS} quarters' bookings, opportunities, "
        "open opportunities and activities), trained on the accounts as of four quarters "
        "back. lift: the tier's average bookings over the last four quarters / the average "
        "account's. The check columns: scored as of four quarters back with only the data up "
        "to then, booked / predicted over the next four quarters with its 95% bootstrap "
        f"interval, and the tier's lift then; check_flag: fewer than {MIN_DECIDED} accounts "
        "booked.",
    )
    result.scores = frame.drop(columns=["log_employees"])
    result.sentence = sentence
    result.check = (
        Result(
            "ICP score checked on time",
            words.strip(),
            check,
            formats={
                "predicted": "{:,.0f}",
                "booked": "{:,.0f}",
                "ratio": "{:.2f}",
                "ci_low": "{:.2f}",
                "ci_high": "{:.2f}",
                "lift": "{:.1f}",
            },
            notes="ratio: booked / predicted over the four quarters after the score was "
            "made (1 = calibrated), 95% bootstrap interval over accounts; lift: booked per "
            f"account against the average; flag: fewer than {MIN_DECIDED} accounts booked.",
        )
        if check is not None
        else NotEnoughData("ICP score checked on time", gap.needs, gap.has, gap.fix)
    )
    return result


def top_prospects(data: Dataset, scores: pd.DataFrame, n: int = 25) -> Result:
    """The highest-scoring accounts that are not customers yet, with territory and rep."""
    if results.missing(scores):
        return NotEnoughData(f"Top {n} prospects", scores.needs, scores.has, scores.fix)
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
        "p_buy",
        "score",
        "propensity",
        "expected_deal",
        "tier",
    ]
    top = data.plan.tier_names()[0]
    return Result(
        f"Top {n} prospects not yet customers",
        f"Together they are expected to book {prospects['score'].sum() / 1e6:,.1f}M over the "
        f"next four quarters; {(prospects['tier'] == top).sum()} are tier {top}.",
        prospects[cols].reset_index(drop=True),
        formats={
            "p_buy": "{:.0%}",
            "score": "{:,.0f}",
            "propensity": "{:.0%}",
            "expected_deal": "{:,.0f}",
        },
        notes="p_buy: the chance of booking in the next four quarters; score: the bookings "
        "expected then; propensity: the chance of winning an opportunity opened now; "
        "expected_deal: the expected size of a won deal.",
    )


def summary(
    propensity: Result, value: Result, churn: Result, cycle: Result, scores: Result
) -> list[str]:
    """Four sentences that open the stage 3 page, with the findings in numbers."""
    tiers = scores.headline if results.missing(scores) else scores.sentence
    if results.missing(propensity):
        win = propensity.headline
    else:
        low, high = propensity.auc_ci
        win = (
            (propensity.sentences[0] + "; " if propensity.sentences else "")
            + f"the win model scores {propensity.auc:.2f} AUC (95% interval {low:.2f} to "
            f"{high:.2f}) on a later holdout."
        )
    size = value.headline if results.missing(value) else value.headline.split(". ")[0]
    cycle_text = cycle.headline if results.missing(cycle) else cycle.headline.split(". ")[1]
    cycle_text = cycle_text[:1].lower() + cycle_text[1:]
    return [
        tiers + " The full profile and the top prospects follow.",
        win,
        size.rstrip(".") + "; " + cycle_text.rstrip(".") + ".",
        churn.headline if results.missing(churn) else churn.sentence,
    ]
