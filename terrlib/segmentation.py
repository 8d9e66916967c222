"""Stage 2, segmentation: account potential, white space and segment economics.

Potential is what a best-in-class similar account spends: a quantile regression (statsmodels
QuantReg, 80th percentile) of log annual bookings on log employees and industry, fitted on
mature accounts that bought in the last four quarters. White space = potential - current spend.

Examples
--------
>>> from terrlib import demo, io
>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> _ = demo.generate(folder, n_accounts=400, n_reps=8, seed=2)
>>> data = io.load_dataset(folder).as_of("2026Q3")
>>> pot = account_potential(data, "2026Q3")
>>> bool((pot.table["white_space"] >= 0).all())
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from terrlib.alignment import bookings
from terrlib.io import Dataset
from terrlib.periods import trailing_bounds
from terrlib.results import Result
from terrlib.workload import size_bands

MIN_BUYERS = 30


def account_potential(data: Dataset, quarter: str, q: float = 0.8) -> Result:
    """Annual potential and white space per account (see the module text for the method).

    Raises
    ------
    ValueError
        When fewer than 30 mature accounts bought in the last four quarters.
    """
    start, end = trailing_bounds(quarter, 4, data.fiscal_start)
    acc = data.accounts
    won = bookings(data, start, end)
    spend = won.groupby("account_id")["amount"].sum().reindex(acc["account_id"]).fillna(0.0)
    frame = pd.DataFrame(
        {
            "account_id": acc["account_id"].to_numpy(),
            "territory_id": acc["territory_id"].to_numpy(),
            "industry": acc["industry"].to_numpy(),
            "size_band": size_bands(data.plan, acc["employees"]).to_numpy(),
            "log_employees": np.log(acc["employees"].clip(lower=1)).to_numpy(),
            "spend_4q": spend.to_numpy(),
        }
    )
    mature = (acc["created_date"] <= start).to_numpy()
    fit_rows = frame[mature & (frame["spend_4q"] > 0)].assign(
        log_spend=lambda f: np.log(f["spend_4q"])
    )
    if len(fit_rows) < MIN_BUYERS:
        raise ValueError(
            f"account potential needs at least {MIN_BUYERS} mature accounts that bought in the "
            f"four quarters to {quarter}; found {len(fit_rows)}"
        )
    model = smf.quantreg("log_spend ~ log_employees + C(industry)", fit_rows).fit(q=q)
    frame["potential"] = np.exp(model.predict(frame))
    frame["white_space"] = (frame["potential"] - frame["spend_4q"]).clip(lower=0)
    frame = frame.drop(columns="log_employees")
    slope = model.params["log_employees"]
    headline = (
        f"Potential is the spend of an account at the {q:.0%} percentile of similar accounts "
        f"(same industry and size), fitted on {len(fit_rows):,} buying accounts: it grows "
        f"{slope:.2f}% for each 1% more employees (pseudo R² {model.prsquared:.2f}). Total "
        f"potential is {frame['potential'].sum() / 1e6:,.1f}M a year against "
        f"{frame['spend_4q'].sum() / 1e6:,.1f}M booked in the last four quarters, leaving "
        f"{frame['white_space'].sum() / 1e6:,.1f}M of white space."
    )
    result = Result(
        "Account potential and white space",
        headline,
        frame,
        formats={"spend_4q": "{:,.0f}", "potential": "{:,.0f}", "white_space": "{:,.0f}"},
    )
    result.model = model
    return result


def segment_table(data: Dataset, quarter: str, potential: pd.DataFrame) -> Result:
    """Economics per industry x size band: accounts, bookings, win rate, average deal,
    potential, penetration and white space (last four quarters)."""
    start, end = trailing_bounds(quarter, 4, data.fiscal_start)
    pot = potential.set_index("account_id")
    opps = data.opportunities
    decided = opps[opps["stage"].isin(["won", "lost"]) & opps["close_date"].between(start, end)]
    decided = decided.assign(
        industry=decided["account_id"].map(pot["industry"]),
        size_band=decided["account_id"].map(pot["size_band"]),
        won=decided["stage"].eq("won"),
    )
    keys = ["industry", "size_band"]
    seg = potential.groupby(keys).agg(
        accounts=("account_id", "size"),
        bookings=("spend_4q", "sum"),
        potential=("potential", "sum"),
        white_space=("white_space", "sum"),
    )
    deals = decided.groupby(keys).agg(decided=("won", "size"), won=("won", "sum"))
    won_amount = decided[decided["won"]].groupby(keys)["amount"].mean()
    seg = seg.join(deals).join(won_amount.rename("avg_deal"))
    seg["win_rate"] = seg["won"] / seg["decided"]
    seg["penetration"] = seg["bookings"] / seg["potential"]
    seg = seg.reset_index()
    seg.insert(0, "segment", seg["industry"] + " · " + seg["size_band"])
    best = seg.nlargest(1, "white_space").iloc[0]
    headline = (
        f"{len(seg)} segments (industry x size band). The largest white space is "
        f"{best['segment']} with {best['white_space'] / 1e6:,.1f}M a year at "
        f"{best['penetration']:.0%} penetration; overall penetration is "
        f"{seg['bookings'].sum() / seg['potential'].sum():.0%}."
    )
    return Result(
        "Segment economics (last four quarters)",
        headline,
        seg.sort_values("white_space", ascending=False).reset_index(drop=True),
        formats={
            "bookings": "{:,.0f}",
            "potential": "{:,.0f}",
            "white_space": "{:,.0f}",
            "avg_deal": "{:,.0f}",
            "win_rate": "{:.0%}",
            "penetration": "{:.0%}",
            "won": "{:.0f}",
            "decided": "{:.0f}",
        },
        notes="win_rate: won / (won + lost) closed in the window; penetration: "
        "bookings / potential; white space: potential less spend, summed.",
    )


def white_space_by_territory(potential: pd.DataFrame) -> pd.DataFrame:
    """White space, potential and spend per territory, largest white-space share first."""
    terr = potential.groupby("territory_id")[["potential", "spend_4q", "white_space"]].sum()
    terr["white_space_share"] = terr["white_space"] / terr["potential"]
    return terr.sort_values("white_space_share", ascending=False).reset_index()
