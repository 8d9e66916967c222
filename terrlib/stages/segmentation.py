"""Stage 2, segmentation: which markets, industries and segments are worth pursuing, what
serving each territory costs against its potential, and what targets are realistic.

Definitions
-----------
* potential: what a best-in-class similar account spends in a year. A quantile regression
  (statsmodels QuantReg, 80th percentile by default) of log annual bookings on log employees
  and industry, fitted on mature accounts that bought in the last four quarters. It is checked
  on time: a model fitted a year earlier must leave about 80% of the next year's buyers at or
  below their potential;
* white space: potential less what the account booked in the last four quarters (never
  negative); uncovered potential: the potential of accounts no rep touched in four quarters;
* penetration: bookings / potential; cost to serve: the coverage model's hours at the rep's
  loaded hourly cost (annual cost / capacity hours); ROI (return on cost): bookings of the
  last four quarters / what selling cost over them: the rep's cost for the quarters held
  for a territory (as stage 5 gives it), the cost to serve for a segment;
* realistic target: potential x attainable penetration, where attainable penetration is what
  the best quarter of territories (75th percentile) already achieves, and never below what the
  territory booked;
* product affinity over accounts that bought: support (share owning both), confidence A->B
  (share of A's owners that own B), lift (confidence / share owning B).

Examples
--------
>>> from terrlib.inputs import demo, dataset as io
>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> _ = demo.generate(folder, n_accounts=400, n_reps=8, seed=2)
>>> data = io.load_dataset(folder).as_of("2026Q3")
>>> from terrlib.stages.measures import account_potential
>>> pot = account_potential(data, "2026Q3")
>>> bool((pot.table["white_space"] >= 0).all())
True
"""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.stats import spearmanr

from terrlib import fitting
from terrlib.inputs.coverage import size_bands
from terrlib.inputs.dataset import Dataset, realign
from terrlib.periods import quarter_bounds, trailing_bounds
from terrlib.results import Decision, InsufficientData, Result
from terrlib.stages.measures import (
    account_workload,
    bookings,
    density_segment,
    fit_potential,
    quarters_held,
    strategic_fit,
)


def potential_check(data: Dataset, quarter: str, q: float = 0.8) -> Result:
    """Time-based check of the potential model: fit on the four quarters ending a year before
    ``quarter`` (with only the data known then) and compare with the following four quarters.

    Returns
    -------
    Result
        One row: ``coverage``, the share of the later year's buyers whose spend was at or below
        their potential (about ``q`` when the model holds); ``spearman``, the rank correlation
        of potential and later spend among them; ``buyers``, how many there were.
    """
    earlier = data.quarter(quarter) - 4
    first = min(data.quarters(), default=data.quarter(quarter))
    if earlier - 3 < first:
        raise InsufficientData(
            f"four quarters of history a year before {data.quarter(quarter)} (from {earlier - 3}), "
            "to fit the model then and compare it with the year since",
            f"history from {first}",
            "The check is made once the data reaches back that far.",
        )
    model, frame, _ = fit_potential(data.as_of(earlier), earlier, q)
    later = fit_potential(data, quarter, q)[1].set_index("account_id")["spend_4q"]
    frame = frame.assign(potential=np.exp(fitting.predict(model, frame)))
    frame["later_spend"] = later.reindex(frame["account_id"]).to_numpy()
    buyers = frame[frame["later_spend"] > 0]
    row = {
        "fitted_on": f"4 quarters to {earlier}",
        "checked_on": f"4 quarters to {data.quarter(quarter)}",
        "buyers": int(len(buyers)),
        "coverage": float((buyers["later_spend"] <= buyers["potential"]).mean()),
        "expected": q,
        "spearman": float(spearmanr(buyers["potential"], buyers["later_spend"]).statistic),
    }
    headline = (
        f"Checked on time: a model fitted a year earlier left {row['coverage']:.0%} of the "
        f"{row['buyers']:,} accounts that bought in the next four quarters at or below their "
        f"potential ({q:.0%} expected), and ranks them with a Spearman correlation of "
        f"{row['spearman']:.2f}."
    )
    return Result(
        "Time-based check of the potential model",
        headline,
        pd.DataFrame([row]),
        formats={"coverage": "{:.0%}", "expected": "{:.0%}", "spearman": "{:.2f}"},
    )


def account_scores(data: Dataset, quarter: str, potential: pd.DataFrame) -> pd.DataFrame:
    """Per account, for later stages: strategic fit, segment (industry, size band, geography),
    potential, white space, whether a rep touched it in four quarters, uncovered potential."""
    start, end = trailing_bounds(quarter, 4, data.fiscal_start)
    acc = data.accounts
    acts = data.activities[data.activities["activity_date"].between(start, end)]
    scores = potential.copy()
    scores.insert(2, "strategic_fit", strategic_fit(acc, data.plan).to_numpy())
    scores.insert(5, "geography", density_segment(acc, data.plan).to_numpy())
    scores["touched_4q"] = scores["account_id"].isin(acts["account_id"])
    scores["uncovered_potential"] = scores["potential"].where(~scores["touched_4q"], 0.0)
    return scores


SCORE_FORMATS = {
    "strategic_fit": "{:.2f}",
    "spend_4q": "{:,.0f}",
    "potential": "{:,.0f}",
    "white_space": "{:,.0f}",
    "uncovered_potential": "{:,.0f}",
}


def top_white_space(data: Dataset, scores: pd.DataFrame, n: int = 15) -> Result:
    """The ``n`` accounts with the most white space, with their name, territory and segment."""
    names = data.accounts.set_index("account_id")["account_name"]
    top = scores.nlargest(n, "white_space").reset_index(drop=True)
    top.insert(1, "account_name", top["account_id"].map(names))
    cols = [
        "account_id",
        "account_name",
        "territory_id",
        "industry",
        "size_band",
        "geography",
        "strategic_fit",
        "spend_4q",
        "potential",
        "white_space",
        "touched_4q",
    ]
    untouched = int((~top["touched_4q"]).sum())
    return Result(
        f"The {n} accounts with the most white space",
        f"Together they could add {top['white_space'].sum() / 1e6:,.1f}M a year; {untouched} of "
        "them had no rep activity in the last four quarters.",
        top[cols],
        formats=SCORE_FORMATS,
    )


def segment_table(
    data: Dataset,
    quarter: str,
    scores: pd.DataFrame,
    by: tuple[str, ...] = ("industry", "size_band"),
) -> Result:
    """Economics per segment (last four quarters): accounts, bookings, win rate, average deal,
    cycle length, cost to serve, potential, penetration, white space and ROI.

    ``by`` names columns of ``scores`` (``industry``, ``size_band``, ``geography``)."""
    keys = list(by)
    start, end = trailing_bounds(quarter, 4, data.fiscal_start)
    sc = scores.set_index("account_id")
    opps = data.opportunities
    decided = opps[opps["stage"].isin(["won", "lost"]) & opps["close_date"].between(start, end)]
    decided = decided.assign(
        **{k: decided["account_id"].map(sc[k]) for k in keys},
        won=decided["stage"].eq("won"),
        cycle_days=(decided["close_date"] - decided["created_date"]).dt.days,
    )
    costed = scores.merge(cost_to_serve(data), on="account_id")
    seg = costed.groupby(keys).agg(
        accounts=("account_id", "size"),
        bookings=("spend_4q", "sum"),
        potential=("potential", "sum"),
        white_space=("white_space", "sum"),
        cost_to_serve=("cost_to_serve", "sum"),
    )
    deals = decided.groupby(keys).agg(decided=("won", "size"), won=("won", "sum"))
    won = decided[decided["won"]].groupby(keys)
    seg = seg.join(deals).join(won["amount"].mean().rename("avg_deal"))
    seg = seg.join(won["cycle_days"].median().rename("cycle_days"))
    seg["win_rate"] = seg["won"] / seg["decided"]
    seg["penetration"] = seg["bookings"] / seg["potential"]
    seg["roi"] = seg["bookings"] / seg["cost_to_serve"]
    seg = seg.reset_index()
    seg.insert(0, "segment", seg[keys].astype(str).agg(" · ".join, axis=1))
    best = seg.nlargest(1, "white_space").iloc[0]
    headline = (
        f"{len(seg)} segments ({' x '.join(k.replace('_', ' ') for k in keys)}). The largest "
        f"white space is {best['segment']} with {best['white_space'] / 1e6:,.1f}M a year at "
        f"{best['penetration']:.0%} penetration; overall penetration is "
        f"{seg['bookings'].sum() / seg['potential'].sum():.0%} and bookings return "
        f"{seg['bookings'].sum() / seg['cost_to_serve'].sum():.1f}x the cost to serve."
    )
    return Result(
        f"Segment economics by {' x '.join(k.replace('_', ' ') for k in keys)} "
        "(last four quarters)",
        headline,
        seg.sort_values("white_space", ascending=False).reset_index(drop=True),
        formats={
            "bookings": "{:,.0f}",
            "potential": "{:,.0f}",
            "white_space": "{:,.0f}",
            "cost_to_serve": "{:,.0f}",
            "avg_deal": "{:,.0f}",
            "win_rate": "{:.0%}",
            "penetration": "{:.0%}",
            "won": "{:.0f}",
            "decided": "{:.0f}",
            "cycle_days": "{:.0f}",
            "roi": "{:.1f}",
        },
        hidden=keys,
        notes="win_rate: won / (won + lost) closed in the window; avg_deal and cycle_days "
        "(median days from created to close) over won deals; cost_to_serve: coverage-model "
        "hours x the rep's loaded hourly cost; penetration: bookings / potential; "
        "roi: bookings / cost to serve.",
    )


def cost_to_serve(data: Dataset) -> pd.DataFrame:
    """Per account: coverage-model hours a year and their cost at the rep's loaded hourly cost
    (annual cost / capacity hours)."""
    work = account_workload(data)
    reps = data.reps.drop_duplicates("territory_id").set_index("territory_id")
    hourly = reps["annual_cost"] / reps["capacity_hours"]
    return pd.DataFrame(
        {
            "account_id": work["account_id"],
            "hours": work["hours"],
            "cost_to_serve": work["hours"] * work["territory_id"].map(hourly).to_numpy(),
        }
    )


def territory_economics(
    data: Dataset,
    quarter: str,
    scores: pd.DataFrame,
    attainable_quantile: float = 0.75,
    attainable: float | None = None,
) -> Result:
    """Cost to serve, potential, bookings, ROI and a realistic target per territory, against
    today's quota (see the module text for the target method). ROI is the last four quarters'
    bookings over the rep's cost for the quarters of those four they held the territory (as
    :func:`terrlib.stages.performance.rep_scorecard` computes ``roi_4q``).

    ``attainable`` fixes the attainable penetration (default: the ``attainable_quantile`` of
    the territories' own), so that a proposal's territories are set the targets today's
    territories set (:func:`proposed_quotas`)."""
    reps = data.reps.drop_duplicates("territory_id").set_index("territory_id")
    costed = scores.merge(cost_to_serve(data), on="account_id")
    terr = (
        costed.groupby("territory_id")
        .agg(
            accounts=("account_id", "size"),
            potential=("potential", "sum"),
            bookings_4q=("spend_4q", "sum"),
            white_space=("white_space", "sum"),
            uncovered_potential=("uncovered_potential", "sum"),
            cost_to_serve=("cost_to_serve", "sum"),
        )
        .reindex(reps.index)
        .fillna(0.0)
    )
    terr.insert(0, "rep_name", reps["rep_name"])
    _, q_end = quarter_bounds(quarter, data.fiscal_start)
    # the rep's cost over the same four quarters (a rep hired since counts from the hire),
    # so a territory's return is the one stage 5 gives its rep (roi_4q)
    terr["rep_cost"] = reps["annual_cost"] * quarters_held(reps["hire_date"], q_end, 4) / 4
    terr["roi"] = terr["bookings_4q"] / terr["rep_cost"].replace(0, np.nan)
    terr["penetration"] = terr["bookings_4q"] / terr["potential"]
    terr["white_space_share"] = terr["white_space"] / terr["potential"]
    terr["uncovered_share"] = terr["uncovered_potential"] / terr["potential"]
    if attainable is None:
        attainable = float(terr["penetration"].quantile(attainable_quantile))
    terr["target_annual"] = np.maximum(terr["bookings_4q"], terr["potential"] * attainable)
    terr["target_quarter"] = terr["target_annual"] / 4
    goal = data.plan.strategy.growth_goal
    terr["goal_quarter"] = terr["bookings_4q"] * (1 + goal) / 4
    terr["quota"] = reps["quarterly_quota"]
    terr["quota_vs_target"] = terr["quota"] / terr["target_quarter"]
    terr = terr.reset_index(names="territory_id")
    top_ws = terr.nlargest(3, "uncovered_share")
    headline = (
        f"A realistic target takes each territory to {attainable:.0%} penetration of its "
        f"potential (what the best quarter of territories already achieve): "
        f"{terr['target_quarter'].sum() / 1e6:,.1f}M a quarter against today's quota of "
        f"{terr['quota'].sum() / 1e6:,.1f}M; the strategy's growth goal of {goal:.0%} would need "
        f"{terr['goal_quarter'].sum() / 1e6:,.1f}M. Uncovered potential concentrates in "
        + ", ".join(f"{r.territory_id} ({r.uncovered_share:.0%})" for r in top_ws.itertuples())
        + f"; ROI (bookings / rep cost) ranges from {terr['roi'].min():.1f}x to "
        f"{terr['roi'].max():.1f}x."
    )
    result = Result(
        "Territory cost against potential",
        headline,
        terr.sort_values("uncovered_share", ascending=False).reset_index(drop=True),
        formats={
            c: "{:,.0f}"
            for c in (
                "potential",
                "bookings_4q",
                "white_space",
                "uncovered_potential",
                "cost_to_serve",
                "rep_cost",
                "target_annual",
                "target_quarter",
                "goal_quarter",
                "quota",
            )
        }
        | {
            "roi": "{:.1f}",
            "penetration": "{:.0%}",
            "white_space_share": "{:.0%}",
            "uncovered_share": "{:.0%}",
            "quota_vs_target": "{:.2f}",
        },
        notes="return on cost: bookings of the last four quarters / the rep's cost for the "
        "quarters of those four they held the territory; uncovered "
        "potential: potential of accounts with no activity in four quarters; target: potential "
        f"x {attainable:.0%} (the {attainable_quantile:.0%} quantile of territory penetration), "
        "never below current bookings; goal_quarter: bookings grown by the plan's growth goal, "
        "per quarter; quota_vs_target: today's quarterly quota / the target.",
        hidden=[
            "target_annual",
            "goal_quarter",
            "white_space_share",
            "rep_cost",
            "uncovered_potential",
        ],
        download="territory_scorecard.csv",
    )
    result.attainable_penetration = attainable
    return result


#: Weight of the territory's attainable potential in next quarter's quota (the rest is its
#: bookings of the last four quarters).
QUOTA_POTENTIAL_WEIGHT = 0.5
#: A quota that moves by more than this share is named in the decision.
QUOTA_BIG_CHANGE = 0.25


def glide(fair: np.ndarray, start: np.ndarray, step: float | None) -> np.ndarray:
    """Quotas that add up to ``fair``'s total, the nearest to the fair shares (least squares)
    that change no rep's share of the total by more than ``step``.

    ``start`` is scaled to the total first (the team's growth applies to every rep); each
    quota is then ``clip(fair + shift, start x (1 - step), start x (1 + step))`` with the one
    ``shift`` that keeps the total, which is the nearest point to ``fair`` within those
    limits. A rep without a start (new, or no quota) has no limit but zero (and no quota
    without a fair share). If even every
    quota at its limit cannot make the total, all move past their limit by the same
    proportion.

    Examples
    --------
    >>> glide(np.array([10.0, 30.0]), np.array([20.0, 20.0]), 0.25).round(2).tolist()
    [15.0, 25.0]
    >>> glide(np.array([10.0, 30.0]), np.array([20.0, 20.0]), None).tolist()
    [10.0, 30.0]
    >>> glide(np.array([10.0, 30.0]), np.array([10.0, 10.0]), 0.25).round(2).tolist()
    [15.0, 25.0]
    >>> glide(np.array([10.0, 30.0, 60.0]), np.array([20.0, 20.0, np.nan]), 0.25).round(2)
    array([15., 25., 60.])
    """
    fair = np.asarray(fair, float)
    total = float(fair.sum())
    start = np.asarray(start, float)
    free = ~(np.isfinite(start) & (start > 0))
    if step is None or not np.isfinite(total) or total <= 0 or free.all():
        return fair.copy()  # nothing to phase from (or no fair share: a green field)
    start = np.where(free, 0.0, start) * (total - fair[free].sum()) / start[~free].sum()
    lo = np.where(free, 0.0, start * (1 - step))
    hi = np.where(free, np.where(fair > 0, np.inf, 0.0), start * (1 + step))
    floor, ceiling = float(lo.sum()), float(hi.sum())
    if floor >= total:
        return lo * total / floor
    if ceiling <= total:
        return hi * total / ceiling

    def made(shift: float) -> float:
        return float(np.clip(fair + shift, lo, hi).sum()) - total

    low = float((lo - fair).min()) - 1.0
    high = float(np.where(free, total, hi - fair).max()) + 1.0
    return np.clip(fair + brentq(made, low, high, xtol=1e-9), lo, hi)


def next_quarter_quotas(
    data: Dataset,
    quarter: str,
    economics: Result,
    weight: float = QUOTA_POTENTIAL_WEIGHT,
    team: float | None = None,
    start: pd.Series | None = None,
) -> Result:
    """Next quarter's quota per rep: the team's number split by potential and by history.

    The team's number is the last four quarters' bookings grown by the plan's growth goal, a
    quarter of it. Each territory's share of it is ``weight`` times its share of realistic
    targets (potential x attainable penetration, never below what it booked: see
    :func:`territory_economics`) plus ``1 - weight`` times its share of bookings (per quarter
    held, for reps hired within the year; a rep hired after the quarter has no history, so
    only potential counts). Last quarter's attainment is shown beside it.

    Parameters
    ----------
    data : Dataset
    quarter : str
        The quarter reviewed; quotas are for the one after it.
    economics : Result
        :func:`territory_economics` for ``quarter``.
    weight : float
        Weight of potential against history, between 0 and 1.
    team : float, optional
        The team's number (default: from the bookings, as above); :func:`proposed_quotas`
        passes today's, so a realignment moves quota between reps without changing it.
    start : Series, optional
        Quota per territory the glide starts from (default today's ``quarterly_quota``):
        each rep's quota next quarter moves from it toward the fair share by at most the
        plan's ``strategy.quota_step`` (:func:`glide`).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> econ = SimpleNamespace(table=pd.DataFrame({"territory_id": ["T1", "T2"],
    ...     "target_annual": [300.0, 100.0], "bookings_4q": [100.0, 100.0],
    ...     "potential": [1000.0, 200.0]}))
    >>> reps = pd.DataFrame({"rep_id": ["R1", "R2"], "rep_name": ["A", "B"],
    ...     "territory_id": ["T1", "T2"], "quarterly_quota": [50.0, 50.0],
    ...     "hire_date": pd.to_datetime(["2020-01-01", "2020-01-01"])})
    >>> opps = pd.DataFrame({"rep_id": ["R1"], "stage": ["won"], "amount": [40.0],
    ...     "close_date": pd.to_datetime(["2024-08-01"])})
    >>> strategy = SimpleNamespace(growth_goal=0.2, quota_step=None)
    >>> data = SimpleNamespace(reps=reps, opportunities=opps, fiscal_start=1,
    ...     plan=SimpleNamespace(strategy=strategy))
    >>> q = next_quarter_quotas(data, "2024Q3", econ).table.set_index("rep_id")
    >>> q["quota_next"].round(2).tolist()  # 60 in all: 0.5 x (3/4, 1/4) + 0.5 x (1/2, 1/2)
    [37.5, 22.5]
    >>> strategy.quota_step = 0.1  # shares move 10% at most from today's half each
    >>> q = next_quarter_quotas(data, "2024Q3", econ).table.set_index("rep_id")
    >>> q["quota_next"].round(2).tolist(), q["quota_fair"].round(2).tolist()
    ([33.0, 27.0], [37.5, 22.5])
    """
    q_start, q_end = quarter_bounds(quarter, data.fiscal_start)
    reps = data.reps.drop_duplicates("territory_id").set_index("territory_id")
    econ = economics.table.set_index("territory_id").reindex(reps.index)
    held = quarters_held(reps["hire_date"], q_end, 4)
    history = (econ["bookings_4q"] * 4 / held.replace(0, np.nan)).fillna(0.0)
    goal = data.plan.strategy.growth_goal
    if team is None:
        team = float(history.sum()) * (1 + goal) / 4
    target_share = econ["target_annual"] / econ["target_annual"].sum()
    history_share = history / history.sum() if history.sum() > 0 else target_share
    share = np.where(held > 0, weight * target_share + (1 - weight) * history_share, np.nan)
    share = pd.Series(share, index=reps.index)
    share = share.fillna(target_share * weight)  # no history: potential's part only
    share = share / share.sum()
    won_q = bookings(data, q_start, q_end)
    booked_q = won_q.groupby("rep_id")["amount"].sum().reindex(reps["rep_id"]).fillna(0.0)
    table = pd.DataFrame(
        {
            "rep_id": reps["rep_id"],
            "rep_name": reps["rep_name"],
            "quota_today": reps["quarterly_quota"],
            "attainment_last_quarter": booked_q.to_numpy()
            / reps["quarterly_quota"].replace(0, np.nan).to_numpy(),
            "bookings_4q": econ["bookings_4q"],
            "potential": econ["potential"],
            "quota_fair": team * share,
        },
        index=reps.index,
    )
    step = data.plan.strategy.quota_step
    begin = reps["quarterly_quota"] if start is None else start.reindex(reps.index)
    table["quota_next"] = glide(table["quota_fair"].to_numpy(), begin.to_numpy(), step)
    table["change"] = table["quota_next"] / table["quota_today"].replace(0, np.nan) - 1
    table = table.reset_index(names="territory_id").sort_values("change", ascending=False)
    today = float(reps["quarterly_quota"].sum())
    return _quotas_result(table, team, today, goal, weight, step)


def _quotas_result(
    table: pd.DataFrame, team: float, today: float, goal: float, weight: float, step
) -> Result:
    """:func:`next_quarter_quotas`'s result: its table with the headline that says how the
    team's number is split and phased in."""
    up = table[table["change"] > QUOTA_BIG_CHANGE]
    down = table[table["change"] < -QUOTA_BIG_CHANGE]
    apart = table["quota_next"] / table["quota_fair"].replace(0, np.nan) - 1
    held_back = int((apart.abs() > 0.05).sum())
    phased = (
        f" Each rep's share of it moves at most {step:.0%} a quarter toward their fair share, "
        f"so {held_back} of {len(table)} reps are still more than 5% from theirs."
        if step is not None
        else ""
    )
    headline = (
        f"Next quarter's number is {team / 1e6:,.2f}M (the last four quarters' bookings grown "
        f"by the plan's {goal:.0%} goal, a quarter of it) against "
        f"{today / 1e6:,.2f}M of quota today. Each rep's fair share "
        f"of it is {weight:.0%} on the territory's realistic target and "
        f"{1 - weight:.0%} on its bookings.{phased} {len(up)} quotas rise by more than "
        f"{QUOTA_BIG_CHANGE:.0%} and {len(down)} fall by more than that."
    )
    result = Result(
        "Quotas for next quarter",
        headline,
        table.reset_index(drop=True),
        formats={
            "quota_today": "{:,.0f}",
            "attainment_last_quarter": "{:.0%}",
            "bookings_4q": "{:,.0f}",
            "potential": "{:,.0f}",
            "quota_fair": "{:,.0f}",
            "quota_next": "{:,.0f}",
            "change": "{:+.0%}",
        },
        notes="quota_fair: the team's number x the territory's share (half its share of "
        "realistic targets, half its share of bookings per quarter held); quota_next: the "
        "quota to set, today's share of the team's number moved toward quota_fair by at most "
        "the plan's quota step; change: quota_next against today's quota; "
        "attainment_last_quarter: bookings closed in the quarter reviewed / today's quota.",
        download="next_quarter_quotas.csv",
    )
    result.team_number = team
    result.quota_step = step
    return result


def quota_decision(quotas: Result) -> Decision:
    """The Decisions line for next quarter's quotas, with the largest moves named."""
    if not np.isfinite(quotas.team_number) or quotas.team_number <= 0:
        return Decision(
            "Quotas for next quarter",
            "No territory has accounts or bookings today, so next quarter's quotas are set on "
            "the proposed alignment (stage 4).",
            "Quotas for next quarter",
        )
    t = quotas.table.assign(
        apart=(quotas.table["quota_fair"] / quotas.table["quota_next"] - 1).abs()
    )
    big = t[t["change"].abs() > QUOTA_BIG_CHANGE].dropna(subset=["change"])
    big = big.assign(size=big["change"].abs().round(3)).sort_values(
        ["size", "apart"], ascending=False
    )
    named = "; ".join(
        f"{r.rep_name} ({r.territory_id}) {r.quota_today:,.0f} to {r.quota_next:,.0f}"
        + (f" (fair share {r.quota_fair:,.0f})" if r.apart > 0.05 else "")
        for r in big.head(3).itertuples()
    )
    text = (
        f"Set next quarter's quotas to {quotas.team_number / 1e6:,.2f}M in all, per rep from "
        "each territory's realistic target and its bookings"
        + (
            f", each rep's share moving at most {quotas.quota_step:.0%} toward it this quarter"
            if quotas.quota_step is not None
            else ""
        )
        + (
            f"; the largest changes: {named}"
            if named
            else "; no quota moves by more than a quarter"
        )
        + "."
    )
    return Decision("Quotas for next quarter", text, "Quotas for next quarter")


#: A rep whose quota on the proposal differs from the one on today's territories by more than
#: this share is named in the decision.
QUOTA_REALIGN_CHANGE = 0.10


def proposed_quotas(
    data: Dataset,
    quarter: str,
    scores: pd.DataFrame,
    alignment: pd.Series,
    weight: float = QUOTA_POTENTIAL_WEIGHT,
) -> Result:
    """Next quarter's quota per rep if a proposed alignment is adopted, beside the quota on
    today's territories (:func:`next_quarter_quotas`).

    The method is the same, on the proposal's territories: the same team number (a
    realignment moves quota between reps, it does not change what the team must book), split
    by each new territory's realistic target (its accounts' potential at the attainable
    penetration of today's territories) and the bookings of its accounts. The quota that
    follows the moved accounts changes at once: each rep's glide (:func:`glide`) starts from
    today's quota plus the fair share the accounts they gain bring (less what the accounts
    they give up took), and only the rest is phased in.

    Parameters
    ----------
    data : Dataset
        Today's alignment.
    quarter : str
        The quarter reviewed.
    scores : DataFrame
        :func:`terrlib.stages.measures.account_potential`'s account table (stage 2's
        ``account_scores``: ``account_id``, ``territory_id``, ``potential``, ``spend_4q``...).
    alignment : Series
        Territory per account (``account_id`` index), e.g. ``TerritoryOptimizer.assignment_``.
    weight : float
        Weight of potential against history (:func:`next_quarter_quotas`).
    """
    econ = territory_economics(data, quarter, scores)
    today = next_quarter_quotas(data, quarter, econ, weight)
    moved = data.realigned(alignment)
    new_scores = realign(scores, alignment)
    fair = today.table.set_index("territory_id")["quota_fair"]
    green = not np.isfinite(fair).all()  # no alignment today: the proposal's own targets
    new_econ = territory_economics(
        moved, quarter, new_scores, attainable=None if green else econ.attainable_penetration
    )
    # on a green field the proposal's own number, each quota phased from the rep's today
    new = next_quarter_quotas(
        moved, quarter, new_econ, weight, team=None if green else today.team_number
    )
    team = new.team_number
    if not green:
        # quota follows the accounts: a rep's glide starts from today's quota (on the scale
        # of the team's number) plus the fair share the moved accounts bring or take away; a
        # territory left without potential or bookings has no quota
        fair_new = new.table.set_index("territory_id")["quota_fair"]
        quota = data.reps.drop_duplicates("territory_id").set_index("territory_id")
        quota = quota["quarterly_quota"]
        scale = team / quota.sum() if quota.sum() > 0 else 1.0
        start = (quota * scale + fair_new - fair).clip(lower=0).where(fair_new > 0, 0.0)
        new = next_quarter_quotas(moved, quarter, new_econ, weight, team=team, start=start)
    table = today.table[["territory_id", "rep_id", "rep_name", "quota_today", "quota_next"]]
    table = table.rename(columns={"quota_next": "quota_next_today"}).merge(
        new.table[["territory_id", "quota_next"]].rename(
            columns={"quota_next": "quota_next_proposed"}
        ),
        on="territory_id",
    )
    table["against_today_territory"] = (
        table["quota_next_proposed"] / table["quota_next_today"].replace(0, np.nan) - 1
    )
    table["change"] = table["quota_next_proposed"] / table["quota_today"].replace(0, np.nan) - 1
    table = table.reindex(
        table["against_today_territory"].abs().sort_values(ascending=False).index
    ).reset_index(drop=True)
    shifted = table[table["against_today_territory"].abs() > QUOTA_REALIGN_CHANGE]
    moved_quota = float((table["quota_next_proposed"] - table["quota_next_today"]).abs().sum())
    headline = (
        f"No account has a territory today: these are the quotas of the proposal's "
        f"territories, {team / 1e6:,.2f}M in all, each phased from the rep's "
        "quota today."
        if green
        else f"If the proposed alignment is adopted, the team's {team / 1e6:,.2f}M is "
        f"split on the new territories: {moved_quota / 2 / 1e6:,.2f}M of quota changes rep "
        f"with the accounts, and {len(shifted)} of {len(table)} reps' quotas differ by more "
        f"than {QUOTA_REALIGN_CHANGE:.0%} from those on today's territories."
    )
    result = Result(
        "Quotas on the proposed alignment",
        headline,
        table,
        formats={
            "quota_today": "{:,.0f}",
            "quota_next_today": "{:,.0f}",
            "quota_next_proposed": "{:,.0f}",
            "against_today_territory": "{:+.0%}",
            "change": "{:+.0%}",
        },
        notes="quota_next_today: next quarter's quota on today's territories (stage 2); "
        "quota_next_proposed: the same method on the proposal's territories, same team "
        "number; against_today_territory: the second against the first; change: the second "
        "against today's quota.",
        download="proposed_quotas.csv",
    )
    result.team_number, result.green = team, green
    return result


def proposed_quota_decision(quotas: Result) -> Decision:
    """The Decisions line for quotas if the proposal is adopted, with the reps whose quota
    the realignment changes most named."""
    t = quotas.table
    if getattr(quotas, "green", False):
        return Decision(
            "Quotas for next quarter",
            f"Set next quarter's quotas on the proposal's territories, "
            f"{quotas.team_number / 1e6:,.2f}M in all (proposed_quotas.csv).",
            quotas.title,
        )
    big = t[t["against_today_territory"].abs() > QUOTA_REALIGN_CHANGE]
    named = "; ".join(
        f"{r.rep_name} ({r.territory_id}) {r.quota_next_today:,.0f} to {r.quota_next_proposed:,.0f}"
        for r in big.head(3).itertuples()
    )
    text = (
        "If you adopt the proposed alignment, set the quotas on its territories instead "
        f"(the same {quotas.team_number / 1e6:,.2f}M in all): "
        + (
            f"{len(big)} reps' quotas change by more than {QUOTA_REALIGN_CHANGE:.0%}, the "
            f"most {named}."
            if named
            else f"no rep's quota changes by more than {QUOTA_REALIGN_CHANGE:.0%}."
        )
    )
    return Decision("Quotas for next quarter", text, quotas.title)


def product_ownership(data: Dataset) -> pd.DataFrame:
    """Boolean account x product table: which products each account has bought (won)."""
    won = data.opportunities[data.opportunities["stage"] == "won"]
    return pd.crosstab(won["account_id"], won["product"]).gt(0)


def product_affinity(data: Dataset) -> Result:
    """Support, confidence and lift of every ordered product pair over accounts that bought.

    ``result.lift`` is the product x product lift matrix."""
    owns = product_ownership(data)
    n = len(owns)
    share = owns.mean()
    rows = []
    for a, b in permutations(owns.columns, 2):
        both = (owns[a] & owns[b]).sum()
        rows.append(
            {
                "product": a,
                "also_buys": b,
                "accounts_with_both": int(both),
                "support": both / n,
                "confidence": both / owns[a].sum(),
                "lift": (both / owns[a].sum()) / share[b],
            }
        )
    pairs = pd.DataFrame(rows).sort_values("lift", ascending=False).reset_index(drop=True)
    lift = pairs.pivot(index="product", columns="also_buys", values="lift")
    top = pairs.drop_duplicates(subset="lift").head(2)
    headline = (
        f"Over {n:,} accounts that bought, the strongest pairs are "
        + " and ".join(
            f"{r.product} with {r.also_buys} (lift {r.lift:.1f}, "
            f"{r.confidence:.0%} of {r.product} owners also own it)"
            for r in top.itertuples()
        )
        + "."
    )
    result = Result(
        "Products bought together",
        headline,
        pairs,
        formats={"support": "{:.1%}", "confidence": "{:.0%}", "lift": "{:.2f}"},
        notes="support: share of buying accounts that own both; confidence: share "
        "of the first product's owners that own the second; lift: confidence / the "
        "second product's share (1 = no association).",
    )
    result.lift = lift
    return result


def product_pairs_once(affinity: Result) -> Result:
    """:func:`product_affinity` with each pair of products once (lift and accounts owning
    both are the same both ways; confidence is given each way), strongest first."""
    t = affinity.table
    ordered = t.assign(first=t[["product", "also_buys"]].min(axis=1))
    ordered = ordered.assign(second=t[["product", "also_buys"]].max(axis=1))
    one_way = ordered[ordered["product"] == ordered["first"]].set_index(["first", "second"])
    back = ordered[ordered["product"] != ordered["first"]].set_index(["first", "second"])
    table = pd.DataFrame(
        {
            "accounts_with_both": one_way["accounts_with_both"],
            "lift": one_way["lift"],
            "first_then_second": one_way["confidence"],
            "second_then_first": back["confidence"].reindex(one_way.index),
        }
    ).sort_values("lift", ascending=False)
    table = table.rename_axis(["product", "with"]).reset_index()
    return Result(
        "Products bought together (each pair once)",
        affinity.headline,
        table,
        formats={
            "accounts_with_both": "{:,.0f}",
            "lift": "{:.1f}",
            "first_then_second": "{:.0%}",
            "second_then_first": "{:.0%}",
        },
        notes="lift: how many times more often accounts own both than chance would give; "
        "first_then_second: share of the first product's owners who own the second; "
        "second_then_first: the other way.",
    )


#: Won deals of a product in a size band from which that band's own average deal is used
#: for a lead's value (else the product's average over every band).
MIN_BAND_DEALS = 10


def cross_sell_leads(
    data: Dataset,
    affinity: Result,
    min_lift: float = 1.5,
    min_accounts: int = 10,
    scores: pd.DataFrame | None = None,
) -> Result:
    """Accounts that own one product of a strong pair but not the other, with the pair's
    confidence as the chance they buy it and the expected value at the offered product's
    average won deal for accounts of the same size band (deal size grows with the account),
    ranked by that value and then by the account's white space (stage 2's ``scores``, when
    given)."""
    owns = product_ownership(data)
    strong = affinity.table[
        (affinity.table["lift"] >= min_lift)
        & (affinity.table["accounts_with_both"] >= min_accounts)
    ]
    acc = data.accounts.set_index("account_id")
    band = size_bands(data.plan, acc["employees"])
    won = data.opportunities[data.opportunities["stage"] == "won"]
    won = won.assign(band=won["account_id"].map(band))
    avg_deal = won.groupby("product")["amount"].mean()
    by_band = won.groupby(["product", "band"])["amount"].agg(["mean", "size"])
    by_band = by_band.loc[by_band["size"] >= MIN_BAND_DEALS, "mean"]
    reps = data.reps.drop_duplicates("territory_id").set_index("territory_id")["rep_name"]
    leads = []
    for pair in strong.itertuples():
        who = owns.index[owns[pair.product] & ~owns[pair.also_buys]]
        deal = pd.Series(
            [by_band.get((pair.also_buys, b), avg_deal[pair.also_buys]) for b in band.reindex(who)],
            index=who,
            dtype=float,
        )
        leads.append(
            pd.DataFrame(
                {
                    "account_id": who,
                    "owns": pair.product,
                    "offer": pair.also_buys,
                    "confidence": pair.confidence,
                    "lift": pair.lift,
                    "expected_value": pair.confidence * deal.to_numpy(),
                }
            )
        )
    table = (
        pd.concat(leads, ignore_index=True)
        if leads
        else pd.DataFrame(
            columns=["account_id", "owns", "offer", "confidence", "lift", "expected_value"]
        )
    )
    room = (
        scores.set_index("account_id")["white_space"]
        if scores is not None and "white_space" in scores
        else pd.Series(0.0, index=acc.index)
    )
    table["white_space"] = table["account_id"].map(room).fillna(0.0).to_numpy()
    table = table.sort_values(["expected_value", "white_space"], ascending=False).drop_duplicates(
        ["account_id", "offer"]
    )
    table.insert(1, "account_name", table["account_id"].map(acc["account_name"]))
    table["territory_id"] = table["account_id"].map(acc["territory_id"])
    table["rep_name"] = table["territory_id"].map(reps)
    headline = (
        f"{len(table):,} cross-sell leads from {len(strong)} strong product pairs (lift at least "
        f"{min_lift}), worth {table['expected_value'].sum() / 1e6:,.1f}M in expected bookings."
    )
    return Result(
        "Cross-sell leads",
        headline,
        table.reset_index(drop=True),
        formats={
            "confidence": "{:.0%}",
            "lift": "{:.1f}",
            "expected_value": "{:,.0f}",
            "white_space": "{:,.0f}",
        },
        notes="expected_value: the pair's confidence x the offered product's average won deal "
        "in the account's size band; white_space: the account's potential less what it booked "
        "in the last four quarters (stage 2), which orders leads of equal value.",
    )


def summary(
    potential: Result, check: Result, segments: Result, territories: Result, affinity: Result
) -> list[str]:
    """Four sentences that open the stage 2 page, with the findings in numbers."""
    pot = potential.table
    seg = segments.table.iloc[0]
    terr = territories.table
    top = terr.head(3)
    pair = affinity.table.iloc[0]
    return [
        f"Accounts could spend {pot['potential'].sum() / 1e6:,.1f}M a year; they booked "
        f"{pot['spend_4q'].sum() / 1e6:,.1f}M in the last four quarters "
        f"({pot['spend_4q'].sum() / pot['potential'].sum():.0%} penetration). " + check.headline,
        f"The largest white space is {seg['segment']} ({seg['white_space'] / 1e6:,.1f}M a year "
        f"at {seg['penetration']:.0%} penetration).",
        "Potential no rep has touched in a year concentrates in "
        + ", ".join(f"{r.territory_id} ({r.uncovered_share:.0%})" for r in top.itertuples())
        + f"; realistic targets add up to {terr['target_quarter'].sum() / 1e6:,.1f}M a quarter "
        f"against today's quota of {terr['quota'].sum() / 1e6:,.1f}M.",
        f"{pair['product']} and {pair['also_buys']} are bought together {pair['lift']:.1f} times "
        "as often as chance would have it, which gives the cross-sell leads below.",
    ]
