"""Stage 3, ideal customer profile: who buys. First analysis: win rates with intervals.

Examples
--------
>>> import pandas as pd
>>> opps = pd.DataFrame({"stage": ["won", "lost", "won", "won"], "g": ["a", "a", "b", "b"]})
>>> win_rates(opps, "g")["win_rate"].tolist()
[0.5, 1.0]
"""

from __future__ import annotations

import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from terrlib.io import Dataset
from terrlib.periods import trailing_bounds
from terrlib.results import Result
from terrlib.workload import size_bands


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
