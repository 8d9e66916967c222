"""Stage 5, performance review. First analysis: quota attainment per rep.

Examples
--------
>>> from terrlib import demo, io
>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> _ = demo.generate(folder, n_accounts=300, n_reps=8, seed=4)
>>> card = rep_scorecard(io.load_dataset(folder).as_of("2026Q3"), "2026Q3")
>>> sorted(card.table.columns)[:3]
['activities', 'attainment', 'attainment_4q']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from terrlib.io import Dataset
from terrlib.periods import quarter_bounds, trailing_bounds
from terrlib.results import Result


def rep_scorecard(data: Dataset, quarter: str) -> Result:
    """Bookings, quota attainment (quarter and trailing four quarters), win rate, open
    pipeline and activities per rep.

    Attainment over four quarters counts only the quarters since the rep's hire date, so a new
    rep is measured on the quota of the quarters they held.
    """
    q_start, q_end = quarter_bounds(quarter, data.fiscal_start)
    t_start, _ = trailing_bounds(quarter, 4, data.fiscal_start)
    opps = data.opportunities
    reps = data.reps.set_index("rep_id")
    closed_q = opps[opps["close_date"].between(q_start, q_end)]
    closed_4q = opps[opps["close_date"].between(t_start, q_end)]
    won_q = closed_q[closed_q["stage"] == "won"].groupby("rep_id")["amount"].sum()
    won_4q = closed_4q[closed_4q["stage"] == "won"].groupby("rep_id")["amount"].sum()
    decided = closed_4q[closed_4q["stage"].isin(["won", "lost"])]
    win_rate = decided["stage"].eq("won").groupby(decided["rep_id"]).mean()
    pipeline = opps[opps["stage"] == "open"].groupby("rep_id")["amount"].sum()
    acts = data.activities[data.activities["activity_date"].between(q_start, q_end)]
    quarters_held = np.clip(
        ((q_end - reps["hire_date"]).dt.days / 91.3).apply(np.ceil), 0, 4
    ).astype(int)
    table = pd.DataFrame(
        {
            "rep_name": reps["rep_name"],
            "territory_id": reps["territory_id"],
            "region": reps["region"],
            "quota": reps["quarterly_quota"],
            "bookings": won_q.reindex(reps.index).fillna(0),
            "bookings_4q": won_4q.reindex(reps.index).fillna(0),
            "quarters_held": quarters_held,
            "win_rate_4q": win_rate.reindex(reps.index),
            "open_pipeline": pipeline.reindex(reps.index).fillna(0),
            "activities": acts.groupby("rep_id").size().reindex(reps.index).fillna(0).astype(int),
        }
    )
    table["attainment"] = table["bookings"] / table["quota"].replace(0, np.nan)
    table["attainment_4q"] = table["bookings_4q"] / (
        table["quota"] * table["quarters_held"]
    ).replace(0, np.nan)
    at_quota = (table["attainment"] >= 1).sum()
    share = table["bookings"].sum() / table["quota"].sum()
    headline = (
        f"In {quarter} the team booked {table['bookings'].sum() / 1e6:,.2f}M against a quota of "
        f"{table['quota'].sum() / 1e6:,.2f}M ({share:.0%}). "
        f"{at_quota} of {len(table)} reps reached quota; attainment ranged from "
        f"{table['attainment'].min():.0%} to {table['attainment'].max():.0%}. Raw attainment "
        f"also reflects what each territory offers, which stage 5's adjusted ratings separate."
    )
    return Result(
        f"Rep scorecard, {quarter}",
        headline,
        table.sort_values("attainment", ascending=False).reset_index(names="rep_id"),
        formats={
            "quota": "{:,.0f}",
            "bookings": "{:,.0f}",
            "bookings_4q": "{:,.0f}",
            "win_rate_4q": "{:.0%}",
            "open_pipeline": "{:,.0f}",
            "attainment": "{:.0%}",
            "attainment_4q": "{:.0%}",
        },
        notes="attainment: bookings (won amount closed in the quarter) / quarterly "
        "quota; attainment_4q: last four quarters' bookings / quota of the "
        "quarters held; win_rate_4q: won / (won + lost) over four quarters.",
    )
