"""How much history each stage needs for full results, against what a data set gives.

A stage with less history still runs: the sections that need more say so (see
:class:`terrlib.results.NotEnoughData`). ``terrlib validate`` prints this table.

Examples
--------
>>> from terrlib.inputs import demo, dataset as io
>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> _ = demo.generate(folder, n_accounts=300, n_reps=8, seed=1)
>>> table = history_table(io.load_dataset(folder), "2024Q4")
>>> table.loc[table["needs quarters"].idxmax(), "for"]
'the churn model and the ICP score checked on time (two years back)'
"""

from __future__ import annotations

import pandas as pd

from terrlib import config


def needs(holdout_quarters: int = 2) -> list[tuple[str, int, str]]:
    """Stage, quarters of history (up to and including the reported quarter), and what for."""
    return [
        ("01-strategic-alignment", 4, "bookings, rep time and potential over a year"),
        ("02-segmentation", 4, "account potential fitted on the last four quarters"),
        ("02-segmentation", 8, "the potential model checked on time (fitted a year back)"),
        (
            "03-ideal-customer-profile",
            holdout_quarters + 1,
            f"the win and deal-size models with a {holdout_quarters}-quarter holdout",
        ),
        (
            "03-ideal-customer-profile",
            6,
            "the churn model (customers a year back, half a year of history before)",
        ),
        (
            "03-ideal-customer-profile",
            6,
            "the ICP score (accounts a year back and their two quarters before)",
        ),
        (
            "03-ideal-customer-profile",
            10,
            "the churn model and the ICP score checked on time (two years back)",
        ),
        ("04-workload-balancing", 4, "potential and ICP tiers from stages 2 and 3"),
        ("05-performance-review", 2, "rep ratings (30 decided deals a rep, up to 12 quarters)"),
        ("05-performance-review", 8, "trends: the last four quarters against the four before"),
    ]


def history_table(data, quarter: str | pd.Period | None = None) -> pd.DataFrame:
    """One row per need: the stage, the quarters it needs, what for, the quarters the data
    has up to ``quarter`` (the latest complete one by default) and whether that is enough.

    Parameters
    ----------
    data : terrlib.inputs.dataset.Dataset
        The loaded data.
    quarter : str or pandas.Period, optional
        The quarter a report would be made for.
    """
    q = data.quarter(quarter) if quarter else data.latest_complete_quarter()
    quarters = [p for p in data.quarters() if p <= q]
    has = len(range(quarters[0].ordinal, q.ordinal + 1)) if quarters else 0
    rows = [
        {
            "stage": config.STAGE_TITLES[stem],
            "needs quarters": n,
            "for": what,
            "data has": has,
            "enough": "yes"
            if has >= n
            else "no: the stage uses what there is or says what it needs",
        }
        for stem, n, what in needs(data.plan.icp.holdout_quarters)
    ]
    return pd.DataFrame(rows)
